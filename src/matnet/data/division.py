"""Division of samples into training, validation and test sets (MATLAB's
``dividerand``, ``divideblock``, ``divideint``, ``divideind``)."""
from __future__ import annotations

import numpy as np

from ..init import rng as _rng

__all__ = ["divide", "MODES"]

MODES = ("random", "block", "interleaved")


def _counts(n, fractions):
    """Sizes of the three sets: validation and test rounded, training the rest; every
    set with a positive fraction gets at least one sample (else a clear error with the
    smallest number of samples that division needs)."""
    sizes = _sizes(n, fractions)
    if min(size for size, f in zip(sizes, fractions) if f > 0) < 1:
        needed = next(m for m in range(1, 10 ** 6) if min(s for s, f in zip(_sizes(m, fractions), fractions) if f > 0) >= 1)
        raise ValueError(f"division {tuple(float(f) for f in fractions)} needs at least {needed} samples "
                         f"(one in each set), got {n}; use fewer sets (division=None or (train, val))")
    return sizes


def _sizes(n, fractions):
    n_val, n_test = (int(round(f * n)) for f in fractions[1:])
    return n - n_val - n_test, n_val, n_test


def _fractions(division):
    f = np.asarray(division, dtype=float)
    if f.shape == (2,):
        f = np.append(f, 0.0)
    if f.shape != (3,) or (f < 0).any() or abs(f.sum() - 1) > 1e-9 or f[0] <= 0:
        raise ValueError(f"division must be (train, validation, test) fractions summing to 1 with "
                         f"train > 0, got {division}")
    return f


def _explicit(n, division):
    sets = [division.get(k, []) for k in ("train", "val", "test")] if isinstance(division, dict) else division
    out = []
    for name, idx in zip(("train", "val", "test"), sets):
        idx = np.asarray(idx if idx is not None else [], dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{name} indices must lie in [0, {n}), got {idx.min()}..{idx.max()}")
        out.append(np.sort(idx))
    all_idx = np.concatenate(out)
    if np.unique(all_idx).size != all_idx.size:
        raise ValueError("training, validation and test index sets overlap")
    if out[0].size == 0:
        raise ValueError("the training index set is empty")
    return tuple(out)


def _is_explicit(division):
    return isinstance(division, dict) or (
        isinstance(division, (list, tuple)) and len(division) in (2, 3)
        and all(np.ndim(d) == 1 or d is None for d in division))


def divide(n, division=(0.7, 0.15, 0.15), mode="random", labels=None, seed=None):
    """Split ``n`` sample indices into training, validation and test sets.

    Parameters
    ----------
    n : int
        Number of samples.
    division : tuple, dict or None
        ``(train, val, test)`` fractions summing to 1 (``(train, val)`` means no test
        set); or explicit index sets, ``{"train": idx, "val": idx, "test": idx}`` or
        a tuple of index arrays (MATLAB's ``divideind``); ``None`` puts everything in
        training.
    mode : {"random", "block", "interleaved"}
        ``"random"`` shuffles (stratified by ``labels`` when given), ``"block"`` takes
        consecutive blocks (time series), ``"interleaved"`` deals samples out in turn.
    labels : array (n,), optional
        Class of each sample, for stratified random division.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    (train, val, test) : three sorted int arrays
    """
    if division is None:
        return np.arange(n), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if _is_explicit(division):
        return _explicit(n, division)
    f = _fractions(division)
    if mode not in MODES:
        raise ValueError(f"unknown division mode {mode!r}; use one of {', '.join(MODES)}")
    if mode == "block":
        n_train, n_val, _ = _counts(n, f)
        idx = np.arange(n)
        return idx[:n_train], idx[n_train:n_train + n_val], idx[n_train + n_val:]
    if mode == "interleaved":
        _counts(n, f)
        assigned, counts = np.empty(n, int), np.zeros(3)
        for i in range(n):  # give each sample to the set furthest behind its share
            k = int(np.argmax(f * (i + 1) - counts))
            assigned[i] = k
            counts[k] += 1
        return tuple(np.flatnonzero(assigned == k) for k in range(3))
    g = _rng(seed)
    if labels is None:
        n_train, n_val, _ = _counts(n, f)
        perm = g.permutation(n)
        return tuple(np.sort(p) for p in (perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]))
    _counts(n, f)
    labels = np.asarray(labels)
    parts = ([], [], [])
    for c in np.unique(labels):
        members = g.permutation(np.flatnonzero(labels == c))
        n_val, n_test = (int(round(x * members.size)) for x in f[1:])
        n_val = min(n_val, max(members.size - 1 - n_test, 0))
        n_test = min(n_test, members.size - 1 - n_val)
        n_train = members.size - n_val - n_test
        for k, chunk in enumerate((members[:n_train], members[n_train:n_train + n_val], members[n_train + n_val:])):
            parts[k].append(chunk)
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
