"""Compression: conversions between a network's weight forms, each returning a new
network and leaving its argument unchanged.

* :func:`prune` — sparse weights (CSR with a fixed pattern) by magnitude or at random;
* :func:`to_low_rank` — ``W = U V`` by truncated SVD (a rank or an energy fraction);
* :func:`to_mpo` — matrix product operators (tensor trains) by sequential SVD;
* :func:`quantize` — integer weights and scales for fixed-point hardware
  (:class:`~matnet.weights.Quantized`), with a :class:`QuantizationReport`;
* :func:`to_dense` — back to plain matrices;
* :func:`summary` — parameters and bytes per connection, dense against stored;
* :class:`GradualPruning` — a ``fit`` callback that prunes step by step while training.

``connections=`` limits a conversion to some ``(source, target)`` keys (default: every
connection).  Each conversion returns the new network; the lossy ones record the
relative Frobenius error ``||W - W'|| / ||W||`` of each converted connection in its
``compression_errors`` (also a column of :func:`summary`)::

    sparse = compress.prune(net, 0.9)
    sparse(X); sparse.compression_errors[("x", "h1")]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backend import on_host
from .analysis.table import Table
from .init import rng as _rng
from .network import weight_label
from .simulate import predict, predict_classes, record, simulate
from .weights import MPO, LowRank, Quantized, Sparse, operator
from .weights.quantized import BITS, SCHEMES, qmax

__all__ = ["prune", "to_low_rank", "to_mpo", "quantize", "QuantizationReport", "to_dense", "summary",
           "GradualPruning"]


def _keys(net, connections):
    keys = list(net.weights) if connections is None else [tuple(k) for k in connections]
    for key in keys:
        if key not in net.weights:
            raise ValueError(f"no {weight_label(key)} in this network")
    return keys


def _convert(net, keys, convert):
    """A new network with ``convert(key, dense W) -> (form, error)`` applied to ``keys``;
    the errors go into its ``compression_errors``."""
    errors, connections = {}, []
    for c in net.connections.values():
        W = net.weights[c.key]
        if c.key in keys:
            W, errors[c.key] = convert(c.key, np.asarray(W))
        connections.append((c, W))
    result = net.rebuild(dict(net.inputs), connections)
    result.compression_errors.update(errors)
    return result


def _relative_error(W, approximation):
    norm = np.linalg.norm(W)
    return float(np.linalg.norm(W - approximation) / norm) if norm else 0.0


def magnitude_mask(W, sparsity):
    """Keep the ``1 - sparsity`` fraction of entries largest in magnitude (at least one)."""
    keep = max(1, int(round((1 - sparsity) * W.size)))
    order = np.argsort(np.abs(W), axis=None)[::-1][:keep]
    mask = np.zeros(W.size, bool)
    mask[order] = True
    return mask.reshape(W.shape)


@on_host
def prune(net, sparsity, method="magnitude", connections=None, seed=None):
    """Sparse weights with a fraction ``sparsity`` of the entries removed.

    Parameters
    ----------
    sparsity : float in [0, 1)
        Fraction of each weight matrix's entries to remove.
    method : {"magnitude", "random"}
        Remove the smallest entries, or entries chosen at random (from ``seed``).

    Returns
    -------
    Network
        The pruned network (relative errors in ``compression_errors``).
    """
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if method not in ("magnitude", "random"):
        raise ValueError(f"unknown pruning method {method!r}; use 'magnitude' or 'random'")
    g = _rng(seed)

    def convert(key, W):
        if method == "magnitude":
            mask = magnitude_mask(W, sparsity)
        else:
            mask = np.zeros(W.size, bool)
            mask[g.choice(W.size, max(1, int(round((1 - sparsity) * W.size))), replace=False)] = True
            mask = mask.reshape(W.shape)
        return Sparse.from_dense(W, mask=mask), _relative_error(W, np.where(mask, W, 0))
    return _convert(net, _keys(net, connections), convert)


@on_host
def to_low_rank(net, rank=None, energy=None, connections=None):
    """Low-rank weights ``W ≈ U V`` by truncated SVD: ``rank`` singular values (at most
    ``min(W.shape)``), or the fewest that keep the fraction ``energy`` of ``sum(s**2)``.

    Returns the new network; its ``compression_errors`` are, per connection, the norm
    of the discarded singular values over the norm of all.
    """
    if (rank is None) == (energy is None):
        raise ValueError("give either rank= or energy=")

    def convert(key, W):
        r = None if rank is None else min(rank, min(W.shape))   # a rank past the matrix's keeps it all
        form = LowRank.from_dense(W, rank=r, energy=energy)
        return form, _relative_error(W, form.to_dense())
    return _convert(net, _keys(net, connections), convert)


@on_host
def to_mpo(net, in_factors, out_factors, bond_dim, connections=None):
    """Matrix-product-operator (tensor-train) weights by sequential SVD.

    Parameters
    ----------
    in_factors, out_factors : sequence of int, or dict ``key -> sequence``
        Factorisations of each matrix's input and output sizes (same number of
        factors, products equal to the sizes); plain sequences apply to the one
        connection converted (``connections=`` or a network with one connection).
    bond_dim : int
        Largest bond dimension χ kept.

    Returns the new network (relative errors in ``compression_errors``).
    """
    def factors(spec, key):
        return spec[key] if isinstance(spec, dict) else spec

    def convert(key, W):
        form = MPO.from_dense(W, factors(in_factors, key), factors(out_factors, key), bond_dim)
        return form, _relative_error(W, form.to_dense())
    if isinstance(in_factors, dict) != isinstance(out_factors, dict):
        raise ValueError("give in_factors and out_factors both as sequences or both as dicts per connection")
    keys = _keys(net, connections if not isinstance(in_factors, dict) or connections else list(in_factors))
    if not isinstance(in_factors, dict) and len(keys) != 1:
        raise ValueError(f"plain factor sequences apply to one connection; this converts {len(keys)} "
                         f"({', '.join(map(weight_label, keys))}): give connections= or dicts per connection")
    return _convert(net, keys, convert)


@on_host
def quantize(net, bits=8, scheme="symmetric-per-row", calibration=None, targets=None, initial=None,
             connections=None):
    """Integer weights for fixed-point hardware: every (selected) weight becomes a
    :class:`~matnet.weights.Quantized` form — an ``int8``/``int16`` matrix, its scales,
    and the step of the grid its input is rounded to — that computes as integer
    hardware does (integer products, scaled accumulation).  Biases and activations stay
    in the network's float type.

    Parameters
    ----------
    bits : {8, 16}
    scheme : {"symmetric-per-row", "symmetric-per-tensor"}
        One weight scale per row (neuron) or one per matrix.
    calibration : array or dict, optional
        Data the float network runs on (a batch; input series for a network with
        delays, with ``initial`` its delay states) to find the range of what each
        connection reads: its input grid spans ``[-max|x|, max|x|]``.  Without it a
        connection's range comes from its source: ``[-1, 1]`` for an input with min-max
        scaling (values beyond the training range are clipped), the activation's
        output range for a layer (tanh, sigmoid, softmax, ...); any other source needs
        calibration data.
    targets : array, optional
        Targets of ``calibration`` (class labels of a classifier): the report then
        compares the loss, or the accuracy, of the float and quantised networks.
    connections : list of ``(source, target)``, optional
        Default: every connection.

    Returns
    -------
    Network
        The quantised network; ``compression_errors`` holds each weight's relative error
        ``||W - diag(s) Q|| / ||W||`` and ``quantization`` a :class:`QuantizationReport`.
    """
    if bits not in BITS:
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    if targets is not None and calibration is None:
        raise ValueError("targets need the calibration data they belong to (calibration=)")
    keys = _keys(net, connections)
    ranges = _input_ranges(net, keys, calibration, initial)

    def convert(key, W):
        step = ranges[key] / qmax(bits) if ranges[key] > 0 else 1.0
        form = Quantized.from_dense(W, step, bits, scheme)
        return form, _relative_error(W, form.to_dense())
    result = _convert(net, keys, convert)
    result.quantization = _report(net, result, keys, ranges, bits, scheme, calibration, targets, initial)
    return result


def _input_ranges(net, keys, calibration, initial):
    """``key -> max |x|`` of what each connection reads: measured on ``calibration``, or
    bounded by the source (min-max scaled input, bounded activation)."""
    if calibration is not None:
        trace = record(net, calibration, initial)
        return {k: float(np.abs(trace.connection_input(net.connections[k])).max(initial=0)) for k in keys}
    ranges = {}
    for key in keys:
        source = key[0]
        if source in net.inputs:
            scaling = net.input_scaling.get(source)
            bound = 1.0 if scaling is not None and scaling.kind == "minmax" else None
            what = f"input {source!r} (no min-max scaling)"
        else:
            activation = net.layers[source].activation
            bound = max(abs(v) for v in activation.output_range)
            bound = bound if np.isfinite(bound) else None
            what = f"layer {source!r} ({activation.name} is unbounded)"
        if bound is None:
            raise ValueError(f"{weight_label(key)} reads {what}: its range is unknown; pass calibration data "
                             "(calibration=X) to measure it")
        ranges[key] = bound
    return ranges


@dataclass
class QuantizationReport:
    """What :func:`quantize` did and what it cost.

    Attributes
    ----------
    connections : Table
        Per quantised connection: ``bits``, ``scheme``, ``error`` (relative error of the
        weight), ``range`` (max |input|), ``input_step``, ``accumulator`` (the C integer
        type that cannot overflow).
    output_error : float or None
        ``||Y_q - Y|| / ||Y||`` of the outputs on the calibration data.
    loss, accuracy : dict or None
        ``{"float": ..., "quantized": ...}`` on the calibration data with its targets: the
        mean squared error in data units, or the accuracy of a classifier.
    """

    connections: Table
    output_error: float | None = None
    loss: dict | None = None
    accuracy: dict | None = None

    def __str__(self):
        lines = [self.connections.to_text()]
        if self.output_error is not None:
            lines.append(f"outputs on the calibration data: relative change {self.output_error:.3g}")
        for name, value in (("mean squared error", self.loss), ("accuracy", self.accuracy)):
            if value is not None:
                lines.append(f"{name}: float {value['float']:.6g}, quantized {value['quantized']:.6g}")
        return "\n".join(lines)


def _report(net, result, keys, ranges, bits, scheme, calibration, targets, initial):
    forms = [result.weights[k] for k in keys]
    table = Table({"connection": [weight_label(k) for k in keys], "bits": [bits] * len(keys),
                   "scheme": [scheme] * len(keys), "error": [result.compression_errors[k] for k in keys],
                   "range": [ranges[k] for k in keys], "input_step": [float(f.input_scale[0]) for f in forms],
                   "accumulator": [f.accumulator for f in forms]}, title=f"quantised to {bits} bits")
    report = QuantizationReport(table)
    if calibration is None:
        return report

    def outputs(n):
        Y = predict(n, calibration) if not n.is_dynamic else simulate(n, calibration, initial)[0]
        return np.concatenate([np.ravel(v) for v in (Y.values() if isinstance(Y, dict) else [Y])])
    Y, Yq = outputs(net), outputs(result)
    norm = np.linalg.norm(Y)
    report.output_error = float(np.linalg.norm(Yq - Y) / norm) if norm else float(np.linalg.norm(Yq))
    if targets is None:
        return report
    if net.classes is not None and not net.is_dynamic:
        labels = np.asarray(targets).reshape(-1)
        report.accuracy = {k: float(np.mean(predict_classes(n, calibration) == labels))
                           for k, n in (("float", net), ("quantized", result))}
    else:
        T = np.ravel(np.asarray(targets, dtype=np.float64))
        if T.size != Y.size:
            raise ValueError(f"targets have {T.size} values, the network gives {Y.size} outputs on the "
                             "calibration data")
        report.loss = {"float": float(np.mean((Y - T) ** 2)), "quantized": float(np.mean((Yq - T) ** 2))}
    return report


@on_host
def to_dense(net, connections=None):
    """Every (selected) weight back to a plain matrix; a new network."""
    keys = _keys(net, connections)
    dense = _convert(net, keys, lambda key, W: (W.copy(), 0.0))
    dense.compression_errors = {k: e for k, e in net.compression_errors.items() if k not in keys}
    return dense


@on_host
def summary(net):
    """Parameters and bytes per connection: dense against as stored.

    Returns
    -------
    dict with ``rows`` (one dict per connection: ``connection``, ``form``,
    ``dense_params``, ``params`` (numbers stored: parameters, and a quantised weight's
    integers), ``dense_bytes``, ``bytes``, ``ratio``, ``error`` (the
    relative error at conversion, None when not converted)), ``total`` (the same
    summed) and ``text`` (a plain table).
    """
    rows = []
    for key, W in net.weights.items():
        dense, op = int(np.prod(W.shape)), operator(W)
        rows.append({"connection": weight_label(key), "form": op.kind, "dense_params": dense,
                     "params": op.n_stored, "dense_bytes": dense * net.dtype.itemsize, "bytes": W.nbytes,
                     "error": net.compression_errors.get(key)})
    for row in rows:
        row["ratio"] = row["dense_params"] / max(row["params"], 1)
    total = {k: sum(r[k] for r in rows) for k in ("dense_params", "params", "dense_bytes", "bytes")}
    total["ratio"] = total["dense_params"] / max(total["params"], 1)
    header = f"{'connection':<20} {'form':<8} {'dense':>9} {'stored':>9} {'bytes':>10} {'ratio':>7} {'error':>9}"
    lines = [header, "-" * len(header)]
    for r in rows + [{"connection": "total", "form": "", **total}]:
        error = "" if r.get("error") is None else f"{r['error']:.3g}"
        lines.append(f"{r['connection']:<20} {r['form']:<8} {r['dense_params']:>9} {r['params']:>9} "
                     f"{r['bytes']:>10} {r['ratio']:>6.1f}x {error:>9}")
    return {"rows": rows, "total": total, "text": "\n".join(lines)}


class GradualPruning:
    """A ``fit`` callback that prunes dense weights by magnitude while training.

    The sparsity grows from 0 at epoch ``start`` to ``sparsity`` at epoch ``end`` along
    Zhu & Gupta's (2017) cubic schedule ``s(t) = s_f (1 - (1 - (t - start)/(end - start))^3)``;
    after each epoch the smallest weights are set to zero.  Afterwards,
    ``prune(net, sparsity)`` stores the result as sparse weights.
    """

    def __init__(self, sparsity, start=0, end=10, connections=None):
        if not 0 <= sparsity < 1 or end <= start:
            raise ValueError("GradualPruning needs 0 <= sparsity < 1 and end > start")
        self.sparsity, self.start, self.end, self.connections = sparsity, start, end, connections

    def level(self, epoch):
        """The sparsity at ``epoch``."""
        progress = min(max((epoch - self.start) / (self.end - self.start), 0.0), 1.0)
        return self.sparsity * (1 - (1 - progress) ** 3)

    def on_epoch_end(self, epoch, history, net):
        level = self.level(epoch)
        if level > 0:
            for key in _keys(net, self.connections):
                W = net.weights[key]
                if type(W) is np.ndarray:
                    W[~magnitude_mask(W, level)] = 0
        return False
