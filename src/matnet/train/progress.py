"""A one-line progress bar on standard error, for interactive terminals only."""
from __future__ import annotations

import os
import sys
import time

__all__ = ["Progress"]


def interactive():
    """Whether standard error is a terminal and we are not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """``[#####-----] epoch 12/100  train 0.0123  val 0.0150  1.2s`` redrawn in place."""

    def __init__(self, total, enabled=None, width=24):
        self.total, self.width = total, width
        self.enabled = interactive() if enabled is None else bool(enabled)
        self.start = time.perf_counter()

    def update(self, epoch, **values):
        if not self.enabled:
            return
        done = int(self.width * min(epoch / max(self.total, 1), 1))
        shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items() if v == v)
        elapsed = time.perf_counter() - self.start
        sys.stderr.write(f"\r[{'#' * done}{'-' * (self.width - done)}] epoch {epoch}/{self.total}  {shown}  {elapsed:.1f}s\033[K")
        sys.stderr.flush()

    def close(self, summary):
        if self.enabled:
            sys.stderr.write(f"\r{summary}\033[K\n")
            sys.stderr.flush()
