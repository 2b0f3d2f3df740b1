"""A small table of named columns: what the analysis functions return.

Columns are 1-D arrays of equal length, read by name (``table["estimate"]``); a table
prints as aligned text, shows as HTML (in a notebook too) and writes CSV.  ``to_pandas()``
gives a DataFrame where pandas is installed (matnet does not need it).
"""
from __future__ import annotations

import csv
import html
import io

import numpy as np

from .._files import write_atomically

__all__ = ["Table"]


class Table:
    """Named columns of equal length.

    Parameters
    ----------
    columns : dict ``name -> 1-D array_like``
    title : str
        A line shown above the table.
    """

    def __init__(self, columns, title=""):
        self._columns = {str(k): np.asarray(v) for k, v in columns.items()}
        lengths = {len(v) for v in self._columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns differ in length: {sorted(lengths)}")
        self.title = title

    @property
    def columns(self):
        """Column names, in order."""
        return list(self._columns)

    def __getitem__(self, name):
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r}; columns: {', '.join(self._columns)}") from None

    def __len__(self):
        return len(next(iter(self._columns.values()), ()))

    def __iter__(self):
        return iter(self.rows())

    def rows(self):
        """One dict per row (plain Python values)."""
        names = self.columns
        return [dict(zip(names, (v.item() if hasattr(v, "item") else v for v in values)))
                for values in zip(*self._columns.values())]

    def _cells(self, digits):
        def cell(v):
            if isinstance(v, (float, np.floating)):
                return "nan" if np.isnan(v) else f"{v:.{digits}g}"
            return str(v)
        return [[cell(v) for v in values] for values in zip(*self._columns.values())]

    def to_text(self, digits=4):
        """Aligned plain text: numbers right-aligned, ``digits`` significant digits."""
        names = self.columns
        body = self._cells(digits)
        numeric = [self._columns[n].dtype.kind in "iuf" for n in names]
        widths = [max([len(n)] + [len(r[j]) for r in body]) for j, n in enumerate(names)]
        def line(cells):
            return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()
        lines = ([self.title] if self.title else []) + [line(names), line(["-" * w for w in widths])]
        return "\n".join(lines + [line(r) for r in body])

    def __repr__(self):
        return self.to_text()

    def _repr_html_(self):
        return self.to_html()

    def to_html(self):
        """An HTML ``<table>`` (the title as its caption), 4 significant digits."""
        head = "".join(f"<th>{html.escape(n)}</th>" for n in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self._cells(4))
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def to_csv(self, path=None):
        """CSV text with a header row (full precision); written atomically to ``path``
        when given."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        for values in zip(*self._columns.values()):
            writer.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else
                             (v.item() if hasattr(v, "item") else v) for v in values])
        text = buffer.getvalue()
        if path is not None:
            write_atomically(path, lambda f: f.write(text), binary=False)
        return text

    def to_dict(self):
        """``name -> list`` of the columns."""
        return {k: v.tolist() for k, v in self._columns.items()}

    def to_pandas(self):
        """A :class:`pandas.DataFrame` of the columns (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(dict(self._columns))
