"""Small HTML builders: escaped text, tables, coloured matrices, embedded PNG images.

Every element carries its style inline (no classes, no scripts, nothing fetched), so a
fragment looks the same in a notebook cell and in the self-contained report.  Nothing
here needs matplotlib.
"""
from __future__ import annotations

import base64
import html

import numpy as np

from ._style import NEGATIVE, POSITIVE, format_value, symmetric_limit

__all__ = ["esc", "table", "matrix_table", "image", "cell_colour"]

TABLE = "border-collapse:collapse;font-family:Menlo,Consolas,monospace;font-size:12px;margin:4px 0 12px 0"
CELL = "border:1px solid #d0d0d0;padding:2px 7px;text-align:right"
HEAD = "border:1px solid #d0d0d0;padding:2px 7px;background:#f3f3f3;font-weight:600;text-align:left"
CAPTION = "caption-side:top;text-align:left;font-weight:600;padding:2px 0;font-family:sans-serif"


def esc(text):
    """``text`` escaped for HTML."""
    return html.escape(str(text), quote=True)


def _mix(colour, strength):
    """``colour`` (``#rrggbb``) mixed with white: 0 is white, 1 the colour."""
    rgb = np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)], dtype=float)
    mixed = 255 - strength * (255 - rgb)
    return "#" + "".join(f"{int(round(v)):02x}" for v in mixed)


def cell_colour(value, limit):
    """``(background, text colour)`` of a cell: red positive, blue negative, as the heatmaps."""
    if not np.isfinite(value):
        return "#eeeeee", "black"
    strength = min(abs(value) / limit, 1.0)
    background = _mix(POSITIVE if value >= 0 else NEGATIVE, strength)
    return background, "white" if strength > 0.6 else "black"


def table(header, rows, caption=None):
    """A table with a header row; cells are escaped."""
    head = "".join(f'<th style="{HEAD}">{esc(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(f'<td style="{CELL}">{esc(v)}</td>' for v in row) + "</tr>" for row in rows)
    cap = f'<caption style="{CAPTION}">{esc(caption)}</caption>' if caption else ""
    return f'<table style="{TABLE}">{cap}<tr>{head}</tr>{body}</table>'


def matrix_table(M, row_names, column_names, caption=None):
    """A matrix as a table whose cells are coloured by value (±max|M| at full colour)."""
    M = np.asarray(M, dtype=np.float64)
    limit = symmetric_limit(M)
    head = f'<th style="{HEAD}"></th>' + "".join(f'<th style="{HEAD}">{esc(c)}</th>' for c in column_names)
    rows = []
    for name, values in zip(row_names, M):
        cells = []
        for v in values:
            background, colour = cell_colour(v, limit)
            cells.append(f'<td style="{CELL};background:{background};color:{colour}">{esc(format_value(v))}</td>')
        rows.append(f'<tr><th style="{HEAD}">{esc(name)}</th>{"".join(cells)}</tr>')
    cap = f'<caption style="{CAPTION}">{esc(caption)}</caption>' if caption else ""
    return f'<table style="{TABLE}">{cap}<tr>{head}</tr>{"".join(rows)}</table>'


def image(png, alt, max_width="100%"):
    """An ``<img>`` with the PNG embedded as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}" '
            f'style="max-width:{max_width};height:auto;display:block;margin:6px 0">')
