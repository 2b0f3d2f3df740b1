"""Weight representations: a connection's ``W`` held sparse, low rank or as an MPO.

Each implements :class:`WeightRepresentation` (``dot``, ``rdot``, ``gradient``,
``jacobian``, ``to_dense``, ``arrays`` / ``from_arrays``) and computes without forming the
dense matrix.  Conversions from a dense matrix: :meth:`Sparse.from_dense`,
:meth:`LowRank.from_dense` (truncated SVD), :meth:`MPO.from_dense` (TT-SVD).
"""
from .base import WeightRepresentation
from .lowrank import LowRank, truncated_svd
from .mpo import MPO
from .sparse import Sparse

__all__ = ["WeightRepresentation", "Sparse", "LowRank", "MPO", "truncated_svd", "from_arrays",
           "KINDS"]

#: ``kind -> class`` for every representation.
KINDS = {cls.kind: cls for cls in (Sparse, LowRank, MPO)}


def from_arrays(kind, shape, arrays):
    """Rebuild a representation of ``kind`` (``"sparse"``, ``"lowrank"``, ``"mpo"``) and
    ``shape`` ``(n_out, n_in)`` from its :meth:`~WeightRepresentation.arrays`."""
    if kind not in KINDS:
        raise ValueError(f"unknown weight kind {kind!r}; known: {sorted(KINDS)}")
    return KINDS[kind].from_arrays(tuple(int(s) for s in shape), arrays)
