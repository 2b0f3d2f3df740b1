"""How shapes are written in messages (shared by every layer)."""

__all__ = ["shape_str"]


def shape_str(shape):
    """``(3, 2)``, and ``(3,)`` for one axis, as Python writes shapes."""
    return str(tuple(int(s) for s in shape))
