"""Where each neuron sits in the picture of a network: a layered layout.

Inputs are in column 0; a layer sits one column right of the deepest source that
feeds it without delay (its topological depth), so a feed-forward chain reads left to
right and a skip connection spans several columns.  Inputs or layers of equal depth
share a column, stacked.  Each layer with a bias gets its own bias node (the constant
1) at the bottom of the column before it.  Units are spaced 1 apart vertically;
columns are 1 apart horizontally; every column is centred on ``y = 0``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Layout", "layered", "depths"]

#: Vertical gap between two groups (inputs, layers, bias nodes) stacked in one column.
GROUP_GAP = 1.5


@dataclass
class Layout:
    """Positions of every node group.

    Attributes
    ----------
    columns : int
        Number of columns.
    groups : dict ``(kind, name) -> (size, 2) array``
        ``kind`` is ``"input"``, ``"layer"`` or ``"bias"`` (``name`` is then the layer
        the bias node feeds); rows are units top to bottom, columns ``(x, y)``.
    depth : dict ``name -> column`` of every input and layer.
    """

    columns: int
    groups: dict = field(default_factory=dict)
    depth: dict = field(default_factory=dict)

    def point(self, kind, name, unit=0):
        """``(x, y)`` of one node."""
        return self.groups[(kind, name)][unit]

    @property
    def column_sizes(self):
        """Number of nodes in each column."""
        sizes = np.zeros(self.columns, int)
        for xy in self.groups.values():
            sizes[int(round(xy[0, 0]))] += len(xy)
        return sizes

    @property
    def extent(self):
        """``(y_min, y_max)`` over all nodes."""
        ys = np.concatenate([xy[:, 1] for xy in self.groups.values()])
        return float(ys.min()), float(ys.max())


def depths(net):
    """Column of every input (0) and layer (1 + deepest zero-delay source)."""
    depth = {name: 0 for name in net.inputs}
    for name in net.topological_order():
        sources = [depth[c.source] for c in net.incoming(name) if 0 in c.delays and c.source in depth]
        depth[name] = 1 + max(sources, default=0)
    return depth


def _column_members(net, depth):
    """Per column, the groups ``(kind, name, size)`` top to bottom."""
    columns = [[] for _ in range(max(depth.values(), default=0) + 1)]
    for name, size in net.inputs.items():
        columns[0].append(("input", name, size))
    for name in net.topological_order():
        columns[depth[name]].append(("layer", name, net.layers[name].size))
    for name in net.topological_order():
        if net.layers[name].bias:
            columns[depth[name] - 1].append(("bias", name, 1))
    return columns


def layered(net):
    """The layered :class:`Layout` of ``net``."""
    depth = depths(net)
    layout = Layout(columns=max(depth.values(), default=0) + 1, depth=depth)
    for x, members in enumerate(_column_members(net, depth)):
        y, placed = 0.0, []
        for k, (kind, name, size) in enumerate(members):
            if k:
                y -= GROUP_GAP
            ys = y - np.arange(size, dtype=float)
            placed.append(((kind, name), ys))
            y = ys[-1]
        shift = -(y / 2.0) if placed else 0.0
        for key, ys in placed:
            layout.groups[key] = np.column_stack([np.full(ys.size, float(x)), ys + shift])
    return layout
