"""Topological order of a directed graph, with the offending cycle named on failure."""
from __future__ import annotations

__all__ = ["CycleError", "topological_order"]


class CycleError(ValueError):
    """The graph has a cycle; ``cycle`` lists its nodes, first node repeated at the end."""

    def __init__(self, cycle, message=None):
        self.cycle = list(cycle)
        super().__init__(message or "cycle " + " → ".join(map(str, self.cycle)))


def topological_order(nodes, edges):
    """Order ``nodes`` so that for every edge ``(u, v)`` ``u`` comes before ``v``.

    Ties keep the order of ``nodes`` (Kahn's algorithm, stable).  Raises
    :class:`CycleError` naming one cycle when there is none.
    """
    nodes = list(nodes)
    successors = {n: [] for n in nodes}
    indegree = {n: 0 for n in nodes}
    for u, v in edges:
        successors[u].append(v)
        indegree[v] += 1
    rank = {n: i for i, n in enumerate(nodes)}
    ready = sorted((n for n in nodes if indegree[n] == 0), key=rank.get)
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for v in successors[n]:
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
                ready.sort(key=rank.get)
    if len(order) < len(nodes):
        raise CycleError(_find_cycle([n for n in nodes if indegree[n] > 0], successors))
    return order


def _find_cycle(remaining, successors):
    """One cycle among ``remaining``: nodes Kahn's algorithm could not order, each of
    which has a predecessor among them, so walking predecessors must loop."""
    remaining = set(remaining)
    predecessors = {n: [u for u in successors if n in successors[u] and u in remaining] for n in remaining}
    start = next(n for n in successors if n in remaining)
    path, seen = [start], {start: 0}
    while True:
        prev = predecessors[path[-1]][0]
        if prev in seen:
            cycle = path[seen[prev]:][::-1]
            return cycle + [cycle[0]]
        seen[prev] = len(path)
        path.append(prev)
