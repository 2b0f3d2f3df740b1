"""Readers of public benchmark data for graph networks and matrix factorisation.

* :func:`read_cora`: a citation graph in the LINQS layout (Cora: ``cora.content`` and
  ``cora.cites``) as a :class:`GraphData`.
* :func:`read_movielens`: ratings in the GroupLens MovieLens-100K layout (``u.data``,
  ``u.info``, folds ``u1.base``/``u1.test`` ...) as a :class:`MovieLens`.
* :func:`per_class_split`: the Planetoid-style split of graph nodes (a fixed number of
  training nodes per class, then validation and test nodes).

Nothing is downloaded: the readers take a directory that holds the files.  Every
problem with a file raises :class:`~matnet.data.readers.DataError` naming the file and,
for a bad line, the line number (1-based) and what is wrong with it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..init import rng as _rng
from .readers import DataError

__all__ = ["GraphData", "Ratings", "MovieLens", "read_cora", "read_movielens", "per_class_split"]


# ----------------------------------------------------------------------------------------
# Containers
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False, repr=False)
class GraphData:
    """A graph with node features and node classes.

    Attributes
    ----------
    features : ndarray (n_nodes, n_features)
        Node features, float64 (one row per node: matnet's "batches are rows").
    labels : ndarray (n_nodes,)
        Class index of each node, int64 in ``0 .. n_classes - 1``.
    adjacency : scipy.sparse.csr_matrix (n_nodes, n_nodes)
        Undirected edges: symmetric, 1.0 where two nodes are linked, no self-loops,
        float64.  ``adjacency.nnz == 2 * n_edges``.
    node_ids : ndarray (n_nodes,)
        The node ids of the source (str), in node order.
    classes : list of str
        Class names, sorted; ``classes[k]`` is the name of label ``k``.
    """

    features: np.ndarray
    labels: np.ndarray
    adjacency: sp.csr_matrix
    node_ids: np.ndarray
    classes: list

    @property
    def n_nodes(self):
        """Number of nodes."""
        return len(self.labels)

    @property
    def n_classes(self):
        """Number of classes."""
        return len(self.classes)

    @property
    def n_edges(self):
        """Number of undirected edges."""
        return self.adjacency.nnz // 2

    @property
    def label_names(self):
        """Class name of each node, ndarray (n_nodes,) of str."""
        return np.asarray(self.classes, dtype=str)[self.labels]

    def __repr__(self):
        return (f"GraphData({self.n_nodes} nodes, {self.n_edges} edges, {self.features.shape[1]} features, "
                f"{self.n_classes} classes)")


@dataclass(frozen=True, eq=False, repr=False)
class Ratings:
    """Ratings of items by users, one entry per rating (coordinate format).

    Attributes
    ----------
    user, item : ndarray (n,)
        0-based user and item indices, int64.
    rating : ndarray (n,)
        The ratings, float64 (for MovieLens whole stars 1..5).
    n_users, n_items : int
        Number of users and items (some may have no rating in this set).
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    n_users: int
    n_items: int

    @property
    def n(self):
        """Number of ratings."""
        return len(self.rating)

    def __len__(self):
        return len(self.rating)

    def dense(self, fill=np.nan):
        """The ratings as a dense matrix.

        Parameters
        ----------
        fill : float
            Value of the entries without a rating.

        Returns
        -------
        ndarray (n_users, n_items), float64
            ``M[user[k], item[k]] = rating[k]`` (a pair rated twice keeps its last
            rating).  It takes ``8 * n_users * n_items`` bytes (13 MB for MovieLens-100K),
            so it is meant for small data.
        """
        matrix = np.full((self.n_users, self.n_items), fill, dtype=np.float64)
        matrix[self.user, self.item] = self.rating
        return matrix

    def subset(self, index):
        """The ratings at positions ``index`` (int array or boolean mask), same sizes."""
        return Ratings(self.user[index], self.item[index], self.rating[index], self.n_users, self.n_items)

    def __repr__(self):
        return f"Ratings({self.n} ratings, {self.n_users} users, {self.n_items} items)"


@dataclass(frozen=True, eq=False, repr=False)
class MovieLens:
    """A ratings data set with its cross-validation folds.

    Attributes
    ----------
    ratings : Ratings
        All ratings.
    folds : list of (Ratings, Ratings)
        ``(train, test)`` pairs in fold order (MovieLens' ``u1.base``/``u1.test`` ...);
        an empty list when there are none.  Every set has the sizes of ``ratings``.
    """

    ratings: Ratings
    folds: list

    def __repr__(self):
        r = self.ratings
        return f"MovieLens({r.n} ratings, {r.n_users} users, {r.n_items} items, {len(self.folds)} folds)"


# ----------------------------------------------------------------------------------------
# Reading text files
# ----------------------------------------------------------------------------------------

def _lines(path, missing):
    """``(line number, fields)`` of each non-blank line of a whitespace-separated text
    file; ``missing`` is the message for a file that is not there."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; {missing}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text file ({e.reason})") from None
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _fields_error(path, line, found, expected, what):
    return DataError(f"{path}: line {line}: found {found} field{'s' * (found != 1)}, expected {expected} ({what})")


# ----------------------------------------------------------------------------------------
# Cora (LINQS citation graphs)
# ----------------------------------------------------------------------------------------

def _cora_content(path, directory):
    rows = _lines(path, f"read_cora expects cora.content and cora.cites in {directory}")
    if not rows:
        raise DataError(f"{path}: the file has no papers")
    width = len(rows[0][1])
    if width < 2:
        raise _fields_error(path, rows[0][0], width, "at least 2", "paper id, features, class label")
    n_features = width - 2
    ids, names, features, seen = [], [], np.empty((len(rows), n_features)), {}
    for k, (line, fields) in enumerate(rows):
        if len(fields) != width:
            raise _fields_error(path, line, len(fields), width, f"paper id, {n_features} features, class label")
        values = fields[1:-1]
        if not set(values) <= {"0", "1"}:
            j = next(j for j, v in enumerate(values) if v not in ("0", "1"))
            raise DataError(f"{path}: line {line}: feature {j + 1} (field {j + 2}) is {values[j]!r}, not 0 or 1")
        if fields[0] in seen:
            raise DataError(f"{path}: line {line}: paper id {fields[0]!r} is already on line {seen[fields[0]]}")
        seen[fields[0]] = line
        features[k] = np.frombuffer("".join(values).encode("ascii"), dtype=np.uint8) - ord("0")
        ids.append(fields[0])
        names.append(fields[-1])
    return ids, names, features


def _cora_edges(path, directory, index):
    """Sorted undirected pairs ``(i, j)`` with ``i < j``, int64 (n_edges, 2)."""
    rows = _lines(path, f"read_cora expects cora.content and cora.cites in {directory}")
    pairs = np.empty((len(rows), 2), dtype=np.int64)
    for k, (line, fields) in enumerate(rows):
        if len(fields) != 2:
            raise _fields_error(path, line, len(fields), 2, "cited paper id, citing paper id")
        for c, paper in enumerate(fields):
            if paper not in index:
                raise DataError(f"{path}: line {line}: paper id {paper!r} is not in cora.content")
            pairs[k, c] = index[paper]
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]      # self-citations are dropped
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def _symmetric(pairs, n):
    """csr (n, n) float64 with 1.0 at ``(i, j)`` and ``(j, i)`` for each distinct pair."""
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n), dtype=np.float64)
    matrix.sort_indices()
    return matrix


def read_cora(directory):
    """Read a citation graph in the LINQS layout (Cora, Sen et al. 2008).

    ``cora.content`` has one paper a line, ``paper_id  f_1 ... f_F  class_label``, with
    ``F`` binary (0/1) word features (the number ``F`` is taken from the first line);
    ``cora.cites`` has one citation a line, ``cited_id  citing_id``.  Fields are
    separated by tabs (any whitespace is accepted).  Citations become undirected edges:
    a pair cited in both directions, or listed twice, is one edge, and self-citations
    are dropped.  The real Cora gives 2,708 nodes, 1,433 features, 7 classes and 5,278
    edges.

    Parameters
    ----------
    directory : str or Path
        The folder holding ``cora.content`` and ``cora.cites``.

    Returns
    -------
    GraphData
        Nodes in the order of ``cora.content``; ``classes`` the sorted class names.

    Raises
    ------
    DataError
        A missing file, a line with the wrong number of fields, a feature that is not
        0 or 1, a paper id listed twice in ``cora.content``, or a citation of a paper
        that is not in it (the message names the file and line).
    """
    directory = Path(directory)
    ids, names, features = _cora_content(directory / "cora.content", directory)
    pairs = _cora_edges(directory / "cora.cites", directory, {paper: k for k, paper in enumerate(ids)})
    classes = sorted(set(names))
    lookup = {name: k for k, name in enumerate(classes)}
    labels = np.array([lookup[name] for name in names], dtype=np.int64)
    return GraphData(features, labels, _symmetric(pairs, len(ids)), np.array(ids, dtype=str), classes)


# ----------------------------------------------------------------------------------------
# MovieLens (GroupLens)
# ----------------------------------------------------------------------------------------

_RATINGS_FIELDS = "user id, item id, rating, timestamp"


def _integer(text):
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def _parse_ratings(path, missing):
    """Raw 1-based ``(user, item, rating, line)`` arrays of a ratings file."""
    rows = _lines(path, missing)
    user, item = np.empty(len(rows), np.int64), np.empty(len(rows), np.int64)
    rating, lines = np.empty(len(rows)), np.empty(len(rows), np.int64)
    for k, (line, fields) in enumerate(rows):
        if len(fields) != 4:
            raise _fields_error(path, line, len(fields), 4, _RATINGS_FIELDS)
        for what, text, out in (("user", fields[0], user), ("item", fields[1], item)):
            value = _integer(text)
            if value is None:
                raise DataError(f"{path}: line {line}: {what} id {text!r} is not an integer")
            if value < 1:
                raise DataError(f"{path}: line {line}: {what} id {value} is below 1 (ids are 1-based)")
            if value >= 2 ** 62:
                raise DataError(f"{path}: line {line}: {what} id {value} is too large")
            out[k] = value
        try:
            rating[k] = float(fields[2])
        except ValueError:
            raise DataError(f"{path}: line {line}: rating {fields[2]!r} is not a number") from None
        if not np.isfinite(rating[k]):
            raise DataError(f"{path}: line {line}: rating {fields[2]!r} is not a finite number")
        lines[k] = line
    return user, item, rating, lines


def _read_info(path):
    """``{"users": n, "items": n, "ratings": n}`` (those given) from ``u.info``, with the
    line of each."""
    counts = {}
    for line, fields in _lines(path, ""):
        if len(fields) != 2 or not re.fullmatch("[0-9]+", fields[0]) or fields[1] not in ("users", "items", "ratings"):
            raise DataError(f"{path}: line {line}: expected '<count> users', '<count> items' or "
                            f"'<count> ratings', found {' '.join(fields)!r}")
        counts[fields[1]] = (int(fields[0]), line)
    return counts


def _to_ratings(path, raw, sizes):
    """Check the ids against ``sizes`` and make 0-based :class:`Ratings`."""
    user, item, rating, lines = raw
    for what, ids in (("user", user), ("item", item)):
        limit, source = sizes[what]
        above = np.flatnonzero(ids > limit)
        if above.size:
            k = above[0]
            raise DataError(f"{path}: line {lines[k]}: {what} id {ids[k]} is above n_{what}s = {limit} ({source})")
    return Ratings(user - 1, item - 1, rating, sizes["user"][0], sizes["item"][0])


def _sizes(directory, raw):
    """``{"user": (n_users, source), "item": (n_items, source)}``: the counts of ``u.info``
    when it gives them, else the largest ids in ``u.data``."""
    info_path = directory / "u.info"
    info = _read_info(info_path) if info_path.exists() else {}
    if "ratings" in info and info["ratings"][0] != len(raw[0]):
        raise DataError(f"{info_path}: line {info['ratings'][1]}: says {info['ratings'][0]} ratings, "
                        f"{directory / 'u.data'} has {len(raw[0])}")
    sizes = {}
    for what, ids in (("user", raw[0]), ("item", raw[1])):
        if what + "s" in info:
            count, line = info[what + "s"]
            sizes[what] = count, f"line {line} of u.info"
        else:
            sizes[what] = int(ids.max()), f"the largest {what} id in u.data"
    return sizes


def _fold_numbers(directory):
    found = {}
    for name in os.listdir(directory):
        match = re.fullmatch(r"u(\d+)\.(base|test)", name)
        if match:
            found.setdefault(int(match.group(1)), set()).add(match.group(2))
    for k, parts in found.items():
        if len(parts) == 1:
            (there,), (lacking,) = parts, {"base", "test"} - parts
            raise DataError(f"{directory / f'u{k}.{lacking}'}: no such file; u{k}.{there} is there and "
                            f"fold {k} needs both")
    return sorted(found)


def read_movielens(directory):
    """Read ratings in the GroupLens MovieLens-100K layout (Harper & Konstan 2015).

    ``u.data`` holds every rating, one a line, ``user_id  item_id  rating  timestamp``
    separated by tabs (any whitespace is accepted), ids 1-based; the timestamp is not
    read.  ``u.info`` (optional) gives the sizes in lines ``943 users``, ``1682 items``
    and ``100000 ratings``; without it the sizes are the largest ids in ``u.data``.
    ``uK.base`` / ``uK.test`` (K = 1, 2, ...; MovieLens has five disjoint 80/20 splits)
    are the cross-validation folds, read in order of K.

    Parameters
    ----------
    directory : str or Path
        The folder holding ``u.data`` (MovieLens' ``ml-100k``).

    Returns
    -------
    MovieLens
        ``ratings`` all of ``u.data``, ids made 0-based; ``folds`` the ``(train, test)``
        pairs present (an empty list if none).  All share ``n_users`` and ``n_items``.

    Raises
    ------
    DataError
        ``u.data`` missing or empty, a line without 4 fields, an id that is not an
        integer, below 1 or above the number of users/items, a rating that is not a
        number, a malformed ``u.info``, or a fold with only one of its two files (the
        message names the file and line).
    """
    directory = Path(directory)
    data_path = directory / "u.data"
    raw = _parse_ratings(data_path, f"read_movielens expects the MovieLens-100K files (u.data ...) in {directory}")
    if len(raw[0]) == 0:
        raise DataError(f"{data_path}: the file has no ratings")
    sizes = _sizes(directory, raw)
    ratings = _to_ratings(data_path, raw, sizes)
    folds = []
    for k in _fold_numbers(directory):
        pair = []
        for part in ("base", "test"):
            path = directory / f"u{k}.{part}"
            pair.append(_to_ratings(path, _parse_ratings(path, ""), sizes))
        folds.append(tuple(pair))
    return MovieLens(ratings, folds)


# ----------------------------------------------------------------------------------------
# Node split for graph benchmarks
# ----------------------------------------------------------------------------------------

def per_class_split(labels, per_class=20, n_val=500, n_test=1000, seed=None):
    """Split graph nodes as Planetoid / Kipf & Welling (2017) do: ``per_class`` random
    nodes of every class for training, then ``n_val`` validation and ``n_test`` test
    nodes drawn at random from the remaining nodes.

    Parameters
    ----------
    labels : array (n_nodes,)
        Class of each node (any values; each distinct value is a class).
    per_class, n_val, n_test : int
        Training nodes per class, validation nodes, test nodes.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same split.

    Returns
    -------
    (train, val, test) : three sorted int64 index arrays, disjoint
        Of sizes ``per_class * n_classes``, ``n_val`` and ``n_test``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D (one class per node), got shape {labels.shape}")
    for name, value in (("per_class", per_class), ("n_val", n_val), ("n_test", n_test)):
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    g = _rng(seed)
    train = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if members.size < per_class:
            raise ValueError(f"class {c.item()!r} has {members.size} nodes, fewer than per_class = {per_class}")
        train.append(g.choice(members, size=int(per_class), replace=False))
    train = np.concatenate(train) if train else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(labels.size), train)
    if rest.size < n_val + n_test:
        raise ValueError(f"{rest.size} nodes are left after {train.size} training nodes, fewer than "
                         f"n_val + n_test = {n_val + n_test}")
    rest = g.permutation(rest)
    val, test = rest[:int(n_val)], rest[int(n_val):int(n_val) + int(n_test)]
    return tuple(np.sort(part).astype(np.int64) for part in (train, val, test))
