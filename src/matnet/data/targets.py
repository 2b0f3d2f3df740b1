"""Targets: validation, class labels and one-hot encoding, scaling into network units."""
from __future__ import annotations

import numpy as np

from .. import backend
from .._format import shape_str

__all__ = ["is_labels", "encode_labels", "prepare_targets"]


def is_labels(T):
    """Whether ``T`` is a 1-D array of class labels (integers, strings or booleans)."""
    if not (hasattr(T, "ndim") and hasattr(T, "dtype")):       # arrays of any library are not read
        T = np.asarray(T)
    kind = T.dtype.kind if isinstance(T.dtype, np.dtype) else backend.numpy_dtype(T.dtype).kind
    return T.ndim == 1 and kind in "iubUSO"


def encode_labels(T, classes=None, n_columns=None):
    """One-hot (or, for one sigmoid column, 0/1) encoding of class labels.

    Parameters
    ----------
    T : array (n_samples,) of labels
    classes : sequence, optional
        Known classes in column order; default the sorted unique labels of ``T``.
    n_columns : int, optional
        Width of the output layer: 1 gives one 0/1 column (two classes).

    Returns
    -------
    encoded : array (n_samples, n_columns)
    classes : list
    """
    T = np.asarray(T)
    if classes is None:
        found, codes = np.unique(T, return_inverse=True)
        classes = found.tolist()
    else:
        classes = list(classes)
        codes = _codes(T, classes)
    width = len(classes) if n_columns is None else n_columns
    if width == 1:
        if len(classes) > 2:
            raise ValueError(f"{len(classes)} classes need an output layer of {len(classes)} units, not 1")
        return codes[:, None].astype(float), classes
    if width != len(classes):
        raise ValueError(f"{len(classes)} classes need an output layer of {len(classes)} units, not {width}")
    return np.eye(width)[codes], classes


def _codes(T, classes):
    """The column of each label of ``T`` among ``classes``: by binary search in the sorted
    classes when they are of the labels' kind, else by a lookup per label."""
    known = np.asarray(classes)
    if known.size and known.ndim == 1 and known.dtype.kind == T.dtype.kind and known.dtype.kind in "iubU":
        order = np.argsort(known, kind="stable")
        codes = order[np.minimum(np.searchsorted(known, T, sorter=order), len(known) - 1)]
        unseen = known[codes] != T
    else:
        index = {c: k for k, c in enumerate(classes)}
        codes = np.array([index.get(c, -1) for c in T.tolist()], dtype=np.intp)
        unseen = codes < 0
    if unseen.any():
        raise ValueError(f"labels {np.unique(T[unseen]).tolist()[:5]} were not seen in training "
                         f"(classes: {classes[:20]})")
    return codes


def prepare_targets(net, T, n_samples, scale=True):
    """Validate targets and bring them into the network's units.

    Parameters
    ----------
    T : array or dict
        ``(n_samples, n_out)`` (or ``(n_samples,)`` for one output unit) for one
        output layer, a dict ``layer -> array`` for several; class labels for a
        network with ``net.classes`` set.

    scale : bool
        Apply the network's output scaling (network units) or not (data units).

    Returns
    -------
    dict ``layer -> (n_samples, n)`` array of ``net.dtype``.
    """
    outputs = net.outputs
    if not isinstance(T, dict):
        if len(outputs) != 1:
            raise ValueError(f"the network has outputs {', '.join(outputs)}; pass targets as a dict name -> array")
        T = {outputs[0]: T}
    if set(T) != set(outputs):
        raise ValueError(f"targets must be given for exactly the outputs {', '.join(outputs)}, "
                         f"got {', '.join(map(str, T))}")
    out = {}
    for name in outputs:
        size = net.layers[name].size
        if net.xp is not np and not is_labels(T[name]):   # checked on the host, then moved back
            backend.check_same(net.xp, T[name], f"targets for output {name!r}")
        t = backend.to_numpy(T[name])
        if net.classes is not None and len(outputs) == 1 and is_labels(t):
            t = encode_labels(t, net.classes, size)[0]
        if t.dtype.kind not in "fiub":
            raise ValueError(f"targets for output {name!r} must be numbers, got dtype {t.dtype}")
        if t.ndim == 1 and size == 1:
            t = t[:, None]
        if t.shape != (n_samples, size):
            raise ValueError(f"targets for output {name!r} must have shape {shape_str((n_samples, size))}, "
                             f"got {shape_str(t.shape)}")
        t = t.astype(net.dtype)
        if not np.isfinite(t).all():
            i, j = np.argwhere(~np.isfinite(t))[0]
            raise ValueError(f"targets for output {name!r} contain NaN or inf (first at sample {i}, output {j})")
        if scale and name in net.output_scaling:
            t = net.output_scaling[name].apply(t)
        out[name] = t if net.xp is np else backend.asarray(t, net.xp)
    return out
