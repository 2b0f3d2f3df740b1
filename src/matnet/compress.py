"""Compression: conversions between a network's weight forms, each returning a new
network and leaving its argument unchanged.

* :func:`prune` — sparse weights (CSR with a fixed pattern) by magnitude or at random;
* :func:`to_low_rank` — ``W = U V`` by truncated SVD (a rank or an energy fraction);
* :func:`to_mpo` — matrix product operators (tensor trains) by sequential SVD;
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

import numpy as np

from .init import rng as _rng
from .network import weight_label
from .weights import MPO, LowRank, Sparse, operator

__all__ = ["prune", "to_low_rank", "to_mpo", "to_dense", "summary", "GradualPruning"]


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


def to_dense(net, connections=None):
    """Every (selected) weight back to a plain matrix; a new network."""
    keys = _keys(net, connections)
    dense = _convert(net, keys, lambda key, W: (W.copy(), 0.0))
    dense.compression_errors = {k: e for k, e in net.compression_errors.items() if k not in keys}
    return dense


def summary(net):
    """Parameters and bytes per connection: dense against as stored.

    Returns
    -------
    dict with ``rows`` (one dict per connection: ``connection``, ``form``,
    ``dense_params``, ``params``, ``dense_bytes``, ``bytes``, ``ratio``, ``error`` (the
    relative error at conversion, None when not converted)), ``total`` (the same
    summed) and ``text`` (a plain table).
    """
    rows = []
    for key, W in net.weights.items():
        dense, op = int(np.prod(W.shape)), operator(W)
        rows.append({"connection": weight_label(key), "form": op.kind, "dense_params": dense,
                     "params": op.n_params, "dense_bytes": dense * net.dtype.itemsize, "bytes": W.nbytes,
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
