"""Numbers and arrays as source text: exact literals, wrapped lines."""
from __future__ import annotations

import numpy as np

__all__ = ["number", "numbers", "wrap"]


def number(v):
    """The shortest decimal that reads back as exactly ``v`` (Python's ``repr`` of the
    float64 value; a float32 value is a float64 exactly, so it reads back exactly too)."""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    text = repr(float(v))
    if not np.isfinite(float(v)):
        raise ValueError(f"cannot write the non-finite number {text}")
    return text


def numbers(array):
    """Every entry of ``array`` (row-major) as an exact literal."""
    a = np.asarray(array)
    if a.dtype.kind in "iub":
        return [str(int(v)) for v in a.ravel()]
    return [number(v) for v in a.ravel().tolist()]


def wrap(tokens, indent="    ", width=100, separator=", "):
    """``tokens`` joined by ``separator`` on lines of at most ``width`` characters."""
    lines, line = [], ""
    for i, token in enumerate(tokens):
        piece = token if i == len(tokens) - 1 else token + separator.rstrip()
        if line and len(indent) + len(line) + 1 + len(piece) > width:
            lines.append(indent + line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        lines.append(indent + line)
    return "\n".join(lines)
