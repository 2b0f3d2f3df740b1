"""Weight forms: a connection's ``W`` held dense, sparse, low rank, as an MPO or quantised.

Every form implements the operator protocol of :class:`WeightOperator` (``dot``,
``rdot``, ``gradient``, ``jacobian``, ``to_dense``, ``singular_values``); :func:`operator`
gives the operator of any weight, a plain ndarray included (:class:`Dense`).  The compressed forms are
:class:`WeightRepresentation` s (``arrays`` / ``from_arrays``, their own parameters) and
compute without forming the dense matrix.  Conversions from a dense matrix: :meth:`Sparse.from_dense`,
:meth:`LowRank.from_dense` (truncated SVD), :meth:`MPO.from_dense` (TT-SVD),
:meth:`Quantized.from_dense` (integers and scales, for fixed-point hardware).
"""
from .base import WeightOperator, WeightRepresentation
from .dense import Dense, Sum, combine
from .lowrank import LowRank, truncated_svd
from .mpo import MPO
from .quantized import Quantized
from .sparse import Sparse

__all__ = ["WeightOperator", "WeightRepresentation", "Dense", "operator", "is_compressed", "combine", "Sum",
           "Sparse", "LowRank", "MPO", "Quantized", "truncated_svd", "from_arrays", "KINDS"]

#: ``kind -> class`` for every representation.
KINDS = {cls.kind: cls for cls in (Sparse, LowRank, MPO, Quantized)}


def from_arrays(kind, shape, arrays):
    """Rebuild a representation of ``kind`` (``"sparse"``, ``"lowrank"``, ``"mpo"``,
    ``"quantized"``) and
    ``shape`` ``(n_out, n_in)`` from its :meth:`~WeightRepresentation.arrays`."""
    if kind not in KINDS:
        raise ValueError(f"unknown weight kind {kind!r}; known: {sorted(KINDS)}")
    return KINDS[kind].from_arrays(tuple(int(s) for s in shape), arrays)


def operator(W):
    """The operator of a weight: a representation itself, or :class:`Dense` around an
    ndarray (no copy)."""
    return W if isinstance(W, WeightOperator) else Dense(W)


def is_compressed(W):
    """Whether ``W`` is a compressed representation (owns its parameters and arrays)."""
    return isinstance(W, WeightRepresentation)

