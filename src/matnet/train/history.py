"""The record of a training run."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["History"]


class History:
    """Per-epoch record of a training run (epoch 0 is the initial network; minibatch
    methods leave its losses NaN, as evaluating them would cost a pass over all data).

    Every recorded quantity is a list with one entry per epoch, read as an attribute:
    ``train_loss``, ``val_loss``, ``test_loss`` (NaN where a split is empty),
    ``train_metric``, ``val_metric``, ``test_metric`` (accuracy for classification, R
    for regression; ``metric`` names which), ``lr``, ``grad_norm``, ``time`` (seconds
    since the start), ``val_fail``, and whatever an algorithm adds (``mu``, ``alpha``,
    ...).  Also ``best_epoch`` (the epoch whose weights the network holds at the end),
    ``stop_reason``, ``algorithm``, ``loss``, and ``division`` (``"train"``, ``"val"``,
    ``"test"`` -> the row indices of each split: samples, or time steps of every series,
    as ``fit`` divided them; empty before).
    """

    #: Recorded every epoch by every algorithm (empty lists before the first epoch).
    STANDARD = ("train_loss", "val_loss", "test_loss", "train_metric", "val_metric", "test_metric", "lr",
                "grad_norm", "time", "val_fail")

    #: Kept by :meth:`best` where an algorithm records them (Bayesian regularisation).
    REGULARISATION = ("alpha", "beta", "gamma")

    def __init__(self, algorithm="", loss="", metric=""):
        self.algorithm, self.loss, self.metric = algorithm, loss, metric
        self.records = {key: [] for key in self.STANDARD}
        self.best_epoch = 0
        self.division = {}
        self.stop_reason = ""
        self.weights = []

    def record(self, **values):
        """Append one epoch's values (missing keys get NaN)."""
        n = self.n_epochs
        for key in values:
            if key not in self.records:
                self.records[key] = [math.nan] * n
        for key, column in self.records.items():
            column.append(values.get(key, math.nan))

    @property
    def n_epochs(self):
        """Number of recorded epochs, epoch 0 included."""
        return len(next(iter(self.records.values()), []))

    @property
    def epochs(self):
        """Number of training epochs run (epoch 0 not counted)."""
        return max(self.n_epochs - 1, 0)

    def __getattr__(self, name):
        records = self.__dict__.get("records", {})
        if name in records:
            return records[name]
        raise AttributeError(f"History has no {name!r}; recorded: {', '.join(records)}")

    def to_dict(self):
        """Columns as lists plus the summary fields."""
        return {"algorithm": self.algorithm, "loss": self.loss, "metric": self.metric,
                "best_epoch": self.best_epoch, "stop_reason": self.stop_reason, **self.records}

    def best(self):
        """The run in brief (for files): algorithm, loss, epochs, stop reason, the
        losses and metrics at the best epoch and, for Bayesian regularisation, its
        ``alpha``, ``beta`` and ``gamma`` there."""
        out = {"algorithm": self.algorithm, "loss": self.loss, "metric": self.metric, "epochs": self.epochs,
               "best_epoch": self.best_epoch, "stop_reason": self.stop_reason}
        for key in ("train_loss", "val_loss", "test_loss", "train_metric", "val_metric", "test_metric"):
            column = self.records.get(key)
            value = column[self.best_epoch] if column and self.best_epoch < len(column) else math.nan
            out[key] = None if math.isnan(value) else float(value)
        for key in self.REGULARISATION:                 # what the posterior of "br" needs
            column = self.records.get(key)
            if column and self.best_epoch < len(column) and not math.isnan(column[self.best_epoch]):
                out[key] = float(column[self.best_epoch])
        return out

    def summary(self):
        """One line: epochs, stop reason and the losses at the best epoch."""
        b = self.best_epoch
        parts = [f"{self.algorithm}: {self.epochs} epochs, stopped: {self.stop_reason}", f"best epoch {b}"]
        def at_best(key):
            column = self.records.get(key, [])
            return column[b] if b < len(column) else math.nan
        for split in ("train", "val", "test"):
            value = at_best(f"{split}_loss")
            if not np.isnan(value):
                metric = at_best(f"{split}_metric")
                extra = "" if np.isnan(metric) else f" ({self.metric} {metric:.4g})"
                parts.append(f"{split} {self.loss} {value:.4g}{extra}")
        return ", ".join(parts)

    def __repr__(self):
        return f"History({self.summary()})"
