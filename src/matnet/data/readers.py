"""Reading data files: CSV (with or without header), NumPy ``.npy``/``.npz`` and Sony
Neural Network Console (NNC / nnabla) data set CSVs.

Every error names the file, and for a bad value the line and the column.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Table", "read_table", "read_csv", "read_npy", "read_nnc", "is_nnc", "select_columns",
           "DataError", "MISSING"]

MISSING = {"", "na", "nan", "n/a", "null", "none", "?", "-"}


class DataError(ValueError):
    """A data file that cannot be used as it is (the message names file, line, column)."""


@dataclass
class Table:
    """Columns read from a file: ``names`` and, per column, a 1-D array (float, or
    strings for a non-numeric column); ``lines`` the file line of each row."""

    path: str
    names: list
    columns: list
    lines: np.ndarray = field(repr=False, default=None)

    @property
    def n_rows(self):
        return len(self.columns[0]) if self.columns else 0

    def numeric(self, index):
        return self.columns[index].dtype.kind == "f"

    def matrix(self, indices, what="input"):
        """The selected columns as a float matrix (n_rows, len(indices))."""
        for i in indices:
            if not self.numeric(i):
                row = next(k for k, v in enumerate(self.columns[i]) if not _is_number(v))
                raise DataError(f"{self.path}: line {self.lines[row]}, column {self.names[i]!r}: "
                                f"{str(self.columns[i][row])!r} is not a number ({what} columns must be numeric)")
        return np.column_stack([self.columns[i] for i in indices]).astype(np.float64)


def _is_number(text):
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def _sniff(sample):
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t| ").delimiter
    except csv.Error:
        return ","


def _has_header(rows):
    """A first row with a non-number where the second row has numbers is a header."""
    if len(rows) < 2:
        return rows and not all(_is_number(c) for c in rows[0])
    first, second = rows[0], rows[1]
    return any(not _is_number(a) and _is_number(b) for a, b in zip(first, second)) or (
        not any(_is_number(c) for c in first) and any(_is_number(c) for c in second))


def read_csv(path, header="auto", delimiter=None, missing="error"):
    """Read a CSV file into a :class:`Table`.

    Parameters
    ----------
    header : "auto", True or False
        Whether the first row holds column names; ``"auto"`` decides from the first
        two rows.  Without a header, columns are named ``"0"``, ``"1"``, ...
    delimiter : str, optional
        Sniffed from the file when omitted (comma, semicolon, tab, bar or space).
    missing : {"error", "drop"}
        What to do with rows that have an empty or missing cell (``NA``, ``NaN``, ``?``).
    """
    path = os.fspath(path)
    if missing not in ("error", "drop"):
        raise ValueError(f"missing must be 'error' or 'drop', got {missing!r}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text CSV file ({e.reason})") from None
    delimiter = delimiter or _sniff(text[:4096])
    rows = [(n, [c.strip() for c in row]) for n, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), 1)
            if row and any(c.strip() for c in row)]
    if not rows:
        raise DataError(f"{path}: the file has no data")
    has_header = _has_header([r for _, r in rows[:2]]) if header == "auto" else bool(header)
    names = rows[0][1] if has_header else [str(i) for i in range(len(rows[0][1]))]
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"{path}: the file has a header but no data rows")
    width = len(names)
    kept, lines = [], []
    for line, row in body:
        if len(row) != width:
            raise DataError(f"{path}: line {line} has {len(row)} cells, the header has {width}")
        gap = next((j for j, c in enumerate(row) if c.lower() in MISSING), None)
        if gap is not None:
            if missing == "drop":
                continue
            raise DataError(f"{path}: line {line}, column {names[gap]!r}: missing value "
                            f"(use --missing drop to skip such rows)")
        infinite = next((j for j, c in enumerate(row) if _is_number(c) and not np.isfinite(float(c))), None)
        if infinite is not None:
            raise DataError(f"{path}: line {line}, column {names[infinite]!r}: {row[infinite]!r} is not a "
                            f"finite number")
        kept.append(row)
        lines.append(line)
    if not kept:
        raise DataError(f"{path}: no rows left after dropping rows with missing values")
    columns = []
    for j in range(width):
        cells = [row[j] for row in kept]
        columns.append(np.array([float(c) for c in cells]) if all(map(_is_number, cells)) else np.array(cells))
    return Table(path, list(names), columns, np.array(lines))


def select_columns(table, spec, default=None):
    """Column indices from a spec: names, 0-based indices (negative from the end) and
    ranges ``start:stop`` (stop excluded), comma-separated; or a list of those."""
    if spec is None or spec == "":
        return list(default if default is not None else range(len(table.names)))
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    width, out = len(table.names), []
    for item in items:
        item = str(item).strip()
        if item in table.names:
            out.append(table.names.index(item))
        elif re.fullmatch(r"-?\d*:-?\d*", item):
            start, stop = (int(x) if x else None for x in item.split(":"))
            out.extend(range(width)[slice(start, stop)])
        elif re.fullmatch(r"-?\d+", item) and -width <= int(item) < width:
            out.append(int(item) % width)
        else:
            raise DataError(f"{table.path}: unknown column {item!r}; columns: {', '.join(table.names)}")
    if not out:
        raise DataError(f"{table.path}: the column selection {spec!r} is empty")
    return out


def read_npy(path):
    """Arrays from ``.npy`` (one array ``"data"``) or ``.npz``; never unpickles."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):      # a plain .npy
            return {"data": loaded}
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    except Exception as e:   # whatever NumPy raises means the file cannot be read
        raise DataError(f"{path}: not a readable .npy/.npz file ({type(e).__name__}: {e})") from None


def read_table(path, header="auto", delimiter=None, missing="error"):
    """A :class:`Table` from a CSV file, or from a 2-D array in a ``.npy``/``.npz`` file."""
    if str(path).endswith((".npy", ".npz")):
        arrays = read_npy(path)
        if len(arrays) == 1:
            (name, array), = arrays.items()
            array = np.asarray(array, dtype=np.float64)
            array = array[:, None] if array.ndim == 1 else array
            if array.ndim != 2:
                raise DataError(f"{path}: expected a 2-D array, got shape {array.shape}")
            return Table(os.fspath(path), [str(i) for i in range(array.shape[1])], list(array.T),
                         np.arange(array.shape[0]) + 1)
        columns, names = [], []
        for name, array in arrays.items():
            array = np.asarray(array)
            array = array[:, None] if array.ndim == 1 else array.reshape(array.shape[0], -1)
            for j in range(array.shape[1]):
                names.append(name if array.shape[1] == 1 else f"{name}__{j}")
                columns.append(array[:, j].astype(np.float64) if array.dtype.kind in "biuf" else array[:, j].astype(str))
        return Table(os.fspath(path), names, columns, np.arange(len(columns[0])) + 1)
    return read_csv(path, header=header, delimiter=delimiter, missing=missing)


# -- Neural Network Console data sets ------------------------------------------------

_NNC_HEADER = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*?)(__(?P<index>\d+))?(:(?P<label>.*))?$")


def is_nnc(path):
    """Whether a CSV file's header follows NNC's ``NAME[__INDEX][:LABEL]`` form with at
    least one ``__INDEX`` or ``:LABEL`` cell (plain names alone are an ordinary CSV)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError):
        return False
    cells = [c.strip() for c in header]
    matches = [_NNC_HEADER.match(c) for c in cells]
    return bool(cells) and all(matches) and any(m.group("index") or m.group("label") for m in matches)


def _nnc_cell(text, folder, path, line, column):
    """A number, or the array in the file the cell names (relative to the CSV's folder)."""
    if _is_number(text):
        return np.asarray(float(text))
    target = os.path.join(folder, text)
    where = f"{path}: line {line}, column {column!r}"
    if not os.path.exists(target):
        raise DataError(f"{where}: file {text!r} not found")
    if target.endswith(".npy"):
        try:
            return np.asarray(np.load(target, allow_pickle=False), dtype=np.float64)
        except Exception as e:   # whatever NumPy raises means the file is unusable
            raise DataError(f"{where}: cannot read {text!r} ({e})") from None
    if target.lower().endswith((".png", ".jpg", ".jpeg", ".bmp")):
        try:
            from PIL import Image
        except ImportError:
            raise DataError(f"{where}: reading images needs Pillow (pip install pillow)") from None
        with Image.open(target) as image:
            return np.asarray(image, dtype=np.float64)
    return _matrix_csv(target, where)


def _matrix_csv(target, where):
    with open(target, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{where}: matrix file {os.path.basename(target)!r} is empty")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        bad = next(i for i, r in enumerate(rows, 1) if len(r) != len(rows[0]))
        raise DataError(f"{where}: matrix file {os.path.basename(target)!r} is ragged "
                        f"(line {bad} has {len(rows[bad - 1])} values, line 1 has {len(rows[0])})")
    try:
        return np.array([[float(c) for c in r] for r in rows])
    except ValueError as e:
        raise DataError(f"{where}: matrix file {os.path.basename(target)!r} has a non-number ({e})") from None


def read_nnc(path):
    """Read a Neural Network Console / nnabla data set CSV.

    Header cells are ``NAME[__INDEX][:LABEL]``: ``x__0 .. x__k`` are joined into one
    vector per sample in column order; a cell that is not a number is a path (relative
    to the CSV's folder) to a matrix CSV (no header, one row per line), an ``.npy`` file
    or an image (``.png``/``.jpg``/``.bmp``, with Pillow); ``y:label`` holds integer
    class indices.  Every sample of a variable must have the same shape.

    Returns
    -------
    dict ``name -> ndarray (n_samples, ...)`` (a scalar per sample gives
    ``(n_samples, 1)``, as nnabla); label variables are int arrays.
    """
    path = os.fspath(path)
    table = read_csv(path, header=True)
    folder = os.path.dirname(os.path.abspath(path))
    groups = {}
    for j, cell in enumerate(table.names):
        match = _NNC_HEADER.match(cell)
        if not match:
            raise DataError(f"{path}: header cell {cell!r} is not NAME[__INDEX][:LABEL]")
        groups.setdefault(match.group("name"), []).append((int(match.group("index") or 0), j, match.group("label")))
    out = {}
    for name, members in groups.items():
        members.sort()
        samples = []
        for row in range(table.n_rows):
            values = [np.asarray(table.columns[j][row]) if table.numeric(j) else
                      _nnc_cell(str(table.columns[j][row]), folder, path, table.lines[row], table.names[j])
                      for _, j, _ in members]
            sample = np.atleast_1d(values[0]) if len(values) == 1 else np.concatenate([np.ravel(v) for v in values])
            if samples and sample.shape != samples[0].shape:
                raise DataError(f"{path}: line {table.lines[row]}, variable {name!r} has shape {sample.shape}, "
                                f"the first sample has {samples[0].shape}")
            samples.append(sample)
        array = np.stack(samples)
        if any(label == "label" for _, _, label in members):
            if not np.all(array == np.round(array)):
                raise DataError(f"{path}: label variable {name!r} must hold integer class indices")
            array = array.astype(np.int64)
        out[name] = array
    return out
