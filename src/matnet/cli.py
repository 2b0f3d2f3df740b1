"""The ``matnet`` command: train, predict, show, explain, analyze, export.

Exit codes: 0 success, 1 runtime failure, 2 usage error (bad option, missing file,
unknown column).  Errors are one line on standard error; ``--debug`` shows the
traceback.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from . import activations, compress, export
from .analysis import analyze
from .data import prepare_timeseries
from .data.readers import DataError, is_nnc, read_nnc, read_table, select_columns
from .datasets import maglev
from .io import load
from .losses import LOSSES
from .network import mlp, narx
from .threads import threads
from .weights import operator
from .train import ALGORITHMS
from .train.constraints import check_option

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """A mistake in the command line or its files (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # one line, exit code 2, the subcommand named once
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        raise UsageError(f"{command}: {message}" if command else message)


def _parse(parser, argv):
    """Parse ``argv``; an optional DATA argument may also follow the options
    (``matnet explain MODEL --row 3 DATA`` as ``matnet explain MODEL DATA --row 3``)."""
    args, extra = parser.parse_known_args(argv)
    if len(extra) == 1 and not extra[0].startswith("-") and getattr(args, "data", "") is None:
        args.data, extra = extra[0], []
    if extra:
        raise UsageError(f"{args.command}: unrecognized arguments: {' '.join(extra)}")
    args.argv = [str(a) for a in argv]
    return args


# -- option values -------------------------------------------------------------------

def _ints(text, what):
    try:
        values = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise UsageError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise UsageError(f"{what} must be positive integers, got {text!r}")
    return values


def default_hidden(n_inputs, n_outputs):
    """The hidden layer ``train`` builds without ``--hidden``: ``max(10, round((n_inputs +
    n_outputs) / 2))`` neurons — Weka's rule for a multilayer perceptron, never below
    MATLAB's 10 (``fitnet``, ``patternnet``), so small problems keep MATLAB's network and
    wide ones (digits: 64 inputs, 10 classes) get the width they need."""
    return [max(10, round((n_inputs + n_outputs) / 2))]


def _delays(text, what):
    """``1:2`` (MATLAB's inclusive range), ``0:3`` or ``1,3``."""
    text = str(text).strip()
    try:
        if ":" in text:
            lo, hi = (int(v) for v in text.split(":"))
            values = list(range(lo, hi + 1))
        else:
            values = [int(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"{what} must look like 1:2 or 1,3, got {text!r}") from None
    if not values or min(values) < 0 or values != sorted(set(values)):
        raise UsageError(f"{what} must be increasing delays >= 0, got {text!r}")
    return values


DIVISION_MODES = ("random", "block", "interleaved")


def _division(text):
    """``(fractions, mode)`` of ``--division``: ``0.7,0.15,0.15``, ``block`` (the default
    fractions in blocks, MATLAB's ``divideblock``) or ``block,0.8,0.1,0.1``."""
    items = [v.strip() for v in str(text).split(",")]
    mode = items.pop(0) if items and items[0] in DIVISION_MODES else None
    if not items:
        return (0.7, 0.15, 0.15), mode
    try:
        parts = tuple(float(v) for v in items)
    except ValueError:
        raise UsageError(f"--division must be fractions like 0.7,0.15,0.15 or one of {', '.join(DIVISION_MODES)} "
                         f"(optionally followed by fractions), got {text!r}") from None
    if len(parts) not in (2, 3) or min(parts) < 0 or abs(sum(parts) - 1) > 1e-6 or parts[0] <= 0:
        raise UsageError(f"--division fractions must be 2 or 3 numbers summing to 1, got {text!r}")
    return parts, mode


def _training_options(args):
    """``fit``'s options from the command line, each checked against fit's table of
    constraints first (a usage error naming the option)."""
    options = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "l2": args.l2,
               "goal": args.goal}
    if args.max_fail is not None:
        options["max_fail"] = None if args.max_fail == 0 else args.max_fail
    for name, value in options.items():
        try:
            check_option(name, value)
        except ValueError as e:
            message = str(e)
            message = message[message.index("must "):].replace(" or None", "")
            raise UsageError(f"--{name.replace('_', '-')} {message}") from None
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be a positive integer, got {args.threads}")
    return {k: v for k, v in options.items() if v is not None or k == "max_fail"}


#: Integer targets with at most this many distinct values look like class labels.
FEW_CLASSES = 20


def _class_numbers(column, name):
    """A numeric label column as integers; refused when its values are not whole
    numbers (a measured quantity, not classes)."""
    values = np.asarray(column, dtype=np.float64)
    fractional = values != np.round(values)
    if fractional.any():
        raise UsageError(f"--task classification: target {name!r} has non-integer values such as "
                         f"{values[fractional][0]:g} ({len(np.unique(values))} distinct); "
                         "it looks like a regression target (--task regression)")
    classes = len(np.unique(values))
    if classes > FEW_CLASSES:
        print(f"hint: target {name!r} gives {classes} classes; if it is a measured quantity, "
              "--task regression fits it", file=sys.stderr)
    return values.astype(np.int64)


def _looks_like_classes(values):
    whole = np.all(values == np.round(values))
    return bool(whole and 2 <= len(np.unique(values)) <= FEW_CLASSES)


def _out(path):
    """``--out`` as a Path whose folder exists (a usage error saying so otherwise)."""
    path = Path(path)
    if not path.resolve().parent.is_dir():
        raise UsageError(f"--out: the folder {path.parent} does not exist")
    return path


def _existing(path):
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    return path


# -- data ------------------------------------------------------------------------------

def _load_columns(args):
    """``(X, T, input names, target names, classification)`` from ``args.data``."""
    path = _existing(args.data)
    if str(path).endswith(".csv") and is_nnc(path):
        arrays = read_nnc(path)
        if "x" not in arrays or "y" not in arrays:
            raise UsageError(f"{path}: an NNC data set needs variables x and y, got {', '.join(arrays)}")
        X = arrays["x"].reshape(len(arrays["x"]), -1).astype(np.float64)
        y = arrays["y"].reshape(len(arrays["y"]), -1)
        labels = arrays["y"].dtype.kind == "i"
        T = y[:, 0] if labels else y.astype(np.float64)
        names = [f"x__{i}" for i in range(X.shape[1])]
        return X, T, names, ["y"], labels or args.task == "classification"
    table = read_table(path, missing=args.missing)
    if len(table.names) < 2:
        raise UsageError(f"{path}: training needs at least two columns (inputs and a target), the file has "
                         f"{len(table.names)}")
    targets = select_columns(table, args.targets, default=[len(table.names) - 1])
    inputs = select_columns(table, args.inputs, default=[i for i in range(len(table.names)) if i not in targets])
    overlap = set(inputs) & set(targets)
    if overlap:
        raise UsageError(f"column {table.names[min(overlap)]!r} is both an input and a target")
    X = table.matrix(inputs, "input")
    text_targets = any(not table.numeric(i) for i in targets)
    classification = args.task == "classification" or (args.task == "auto" and text_targets)
    if classification:
        if len(targets) != 1:
            raise UsageError("classification needs exactly one target column (the class labels)")
        column = table.columns[targets[0]]
        T = column if not table.numeric(targets[0]) else _class_numbers(column, table.names[targets[0]])
    else:
        T = table.matrix(targets, "target")
        if args.task == "auto" and len(targets) == 1 and _looks_like_classes(T[:, 0]):
            print(f"hint: target {table.names[targets[0]]!r} holds {len(np.unique(T))} distinct integers; "
                  "--task classification trains a classifier", file=sys.stderr)
    return X, T, [table.names[i] for i in inputs], [table.names[i] for i in targets], classification


# -- train -----------------------------------------------------------------------------

def _summary_table(history, seconds):
    best = history.best_epoch
    rows = [("split", f"loss ({history.loss})", history.metric)]
    for split in ("train", "val", "test"):
        loss = getattr(history, f"{split}_loss")[best]
        metric = getattr(history, f"{split}_metric")[best]
        if not np.isnan(loss):
            rows.append((split, f"{loss:.6g}", "" if np.isnan(metric) else f"{metric:.4f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"epochs {history.epochs} (best {best}), stopped: {history.stop_reason}, time {seconds:.1f} s")
    return "\n".join(lines)


def _write_history(history, path):
    columns = list(history.records)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", *columns])
        for epoch in range(history.n_epochs):
            writer.writerow([epoch, *[history.records[c][epoch] for c in columns]])


def _demo_data(quick):
    """The bundled demo: the levitated magnet, 4001 steps (1001 with --quick)."""
    data = maglev(n_steps=1001 if quick else 4001, seed=0)
    return data.u, data.y


def cmd_train(args):
    out = _out(args.out)
    hidden = None if args.hidden == "auto" else _ints(args.hidden, "--hidden")
    (division, division_mode), options = _division(args.division), _training_options(args)
    try:
        activations.get(args.activation)
    except ValueError as e:
        raise UsageError(f"--activation: {e}") from None
    if args.loss is not None and args.loss not in LOSSES:
        raise UsageError(f"--loss must be one of {', '.join(LOSSES)}, got {args.loss!r}")
    with threads(args.threads):
        return _train(args, out, hidden, division, division_mode, options)


def _train(args, out, hidden, division, division_mode, options):
    is_narx = args.narx or args.data is None
    if args.data is None:
        X, T = _demo_data(args.quick)
        in_names, out_names, classification = ["current"], ["position"], False
        print("no DATA given: training the bundled demo, a NARX model of a levitated magnet "
              f"({len(X)} steps of 0.01 s)")
    else:
        X, T, in_names, out_names, classification = _load_columns(args)
    if args.quick and options.get("epochs") is None:
        options["epochs"] = 100
    if is_narx:
        if classification:
            raise UsageError("--narx models need numeric target columns")
        hidden = hidden or default_hidden(X.shape[1] + T.shape[1], T.shape[1])    # exogenous and fed back
        net = narx(_delays(args.input_delays, "--input-delays"), _delays(args.feedback_delays, "--feedback-delays"),
                      hidden, n_inputs=X.shape[1], n_outputs=T.shape[1], activation=args.activation, seed=args.seed)
        algorithm = args.algorithm or "br"
    else:
        n_out = len(np.unique(T)) if classification else T.shape[1]
        net = mlp([X.shape[1], *(hidden or default_hidden(X.shape[1], n_out)), n_out], activation=args.activation,
                     output_activation="softmax" if classification else "linear", seed=args.seed)
        algorithm = args.algorithm or ("scg" if classification else ("lm" if net.n_params <= 2000 else "scg"))
    start = time.perf_counter()
    history = net.fit(X, T, algorithm=algorithm, loss=args.loss, division=division, division_mode=division_mode,
                      seed=args.seed, **options)
    seconds = time.perf_counter() - start
    out.mkdir(exist_ok=True)
    net.training = {**(net.training or {}),
                    "task": "narx" if is_narx else ("classification" if classification else "regression")}
    net.feature_names = {"x": list(in_names)}          # a classifier's output units are its classes
    if classification:                                 # its label column, for analyze
        net.training["columns"] = {"targets": list(out_names)}
    if not classification:
        net.feature_names.update({name: list(out_names) for name in ("y", "y_fb") if name in net.inputs
                                  or name in net.layers})
    net.save(out / "model.npz")
    _write_history(history, out / "history.csv")
    print(_summary_table(history, seconds))
    report_data = (X, T)
    if is_narx:
        closed = net.closed_loop()
        closed.save(out / "model_closed_loop.npz")
        test_start = int(len(X) * (division[0] + (division[1] if len(division) > 2 else 0)))
        lag = max(max(c.delays) for c in closed.connections.values())
        inputs, targets, initial = prepare_timeseries(closed, X[test_start - lag:], T[test_start - lag:])
        free_run, _ = closed.simulate(inputs, initial)
        mse = float(np.mean((free_run - targets) ** 2))
        print(f"closed loop on the last {len(targets)} steps (test block): MSE {mse:.4g}, "
              f"R² {1 - mse / float(np.var(targets)):.4f}")
        net, report_data = closed, (inputs, targets, initial)
    _write_report(net, history, report_data, out / "report.html", args)
    print(f"wrote {out / 'model.npz'}, {out / 'history.csv'}"
          + (f", {out / 'report.html'}" if (out / "report.html").exists() else ""))
    return 0


def _write_report(net, history, data, path, args):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("report skipped: it needs matplotlib (pip install matnet[plot])", file=sys.stderr)
        return
    from .plot import report
    source = args.data or "the bundled demo (maglev, simulated)"
    details = {"data": str(source), "command": shlex.join(["matnet", *args.argv]),
               "date": datetime.now().astimezone().isoformat(timespec="seconds")}
    report(net, history=history, data=data, path=path, title=f"matnet report: {Path(str(source)).name}",
           details=details)


# -- predict, show, explain, export ------------------------------------------------------

def _load_model(path):
    return load(_existing(path))


def _input_matrix(net, args):
    path = _existing(args.data)
    if str(path).endswith(".csv") and is_nnc(path):
        x = read_nnc(path).get("x")
        if x is None:
            raise UsageError(f"{path}: an NNC data set needs the variable x")
        return x.reshape(len(x), -1).astype(np.float64), None
    table = read_table(path, missing=args.missing)
    n_in = sum(net.inputs[name] for name in _exogenous(net))
    trained = _column_names(net, "inputs")
    headed = table.names != [str(i) for i in range(len(table.names))]
    if args.inputs:
        columns = select_columns(table, args.inputs)
    elif trained and all(name in table.names for name in trained):
        columns = [table.names.index(name) for name in trained]
    elif trained and headed and not getattr(args, "by_position", False):
        missing = [name for name in trained if name not in table.names]
        raise UsageError(f"{args.data}: the model's input columns {', '.join(missing)} are not in the file "
                         f"(its columns: {', '.join(table.names)}); --inputs chooses columns, --by-position "
                         f"takes the first {n_in}")
    elif len(table.names) >= n_in:
        columns = list(range(n_in))
    else:
        raise UsageError(f"{args.data}: the model takes {n_in} inputs, the file has {len(table.names)} columns")
    if len(columns) != n_in:
        raise UsageError(f"the model takes {n_in} input columns, {len(columns)} selected")
    return table.matrix(columns, "input"), table


def _column_names(net, side):
    """The data file's column names of the model's ``"inputs"`` (its exogenous inputs in
    order) or ``"targets"`` (its outputs), from ``net.feature_names`` (or the training
    record of files from matnet before it had them); None when unknown."""
    names = net.feature_names
    keys = _exogenous(net) if side == "inputs" else net.outputs
    if keys and all(k in names for k in keys):
        return [n for k in keys for n in names[k]]
    return ((net.training or {}).get("columns") or {}).get(side)


def _exogenous(net):
    """The inputs a data file gives: all but an open-loop NARX's feedback inputs."""
    return [name for name in net.inputs if name not in net.feedback]


def _input_series(net, X):
    """The columns of ``X`` split into the exogenous inputs, in order; and the network
    that runs on them (a NARX in closed loop: it feeds back its own predictions)."""
    closed = net.closed_loop() if any(k in net.inputs for k in net.feedback) else net
    U, start = {}, 0
    for name in _exogenous(net):
        U[name] = X[:, start:start + net.inputs[name]]
        start += net.inputs[name]
    return closed, U or None


def _measured_outputs(net, table, spec=None):
    """The target columns of a data file: ``spec`` (``--targets``) or the columns the
    model was trained on; a classifier's class labels as one column.  None when the
    file lacks them."""
    if table is None:                   # an NNC data set or an array file: no named columns
        if spec:
            raise UsageError("--targets chooses columns of a CSV file")
        return None
    if spec:
        columns = select_columns(table, spec)
    else:
        names = _column_names(net, "targets")
        if not names or not all(name in table.names for name in names):
            return None
        columns = [table.names.index(name) for name in names]
    if net.classes is None:
        return table.matrix(columns, "target")
    if len(columns) != 1:
        raise UsageError("a classifier takes one target column: its class labels")
    column, name = table.columns[columns[0]], table.names[columns[0]]
    return column if not table.numeric(columns[0]) else _class_numbers(column, name)


def _narx_predictions(net, X, table, closed_loop):
    """``(Y, how)``: a NARX's outputs for every data row (NaN where the delays are still
    filling), one step ahead from the measured outputs (open loop) or free-running
    from the first measured steps (closed loop)."""
    Y_measured = _measured_outputs(net, table)
    open_loop = any(k in net.inputs for k in net.feedback)
    if Y_measured is None:          # no measured outputs to start from or to feed back
        closed, U = _input_series(net, X)
        Y, _ = closed.simulate(U, n_steps=len(X))
        return (np.hstack(list(Y.values())) if isinstance(Y, dict) else Y), "closed loop from zero states"
    model = net.closed_loop() if (closed_loop and open_loop) else net
    inputs, _, initial = prepare_timeseries(model, _input_series(net, X)[1], Y_measured)
    Y, _ = model.simulate(inputs, initial)
    Y = np.hstack(list(Y.values())) if isinstance(Y, dict) else Y
    lag = len(X) - len(Y)
    how = ("closed loop: free run from the first measured steps" if closed_loop or not open_loop
           else "open loop: one step ahead from the measured outputs")
    return np.vstack([np.full((lag, Y.shape[1]), np.nan), Y]), how


def cmd_predict(args):
    net = _load_model(args.model)
    X, table = _input_matrix(net, args)
    if args.proba and net.classes is None:
        raise UsageError("--proba needs a classifier (the model has no classes)")
    how = None
    if net.is_dynamic:
        Y, how = _narx_predictions(net, X, table, args.closed_loop)
    else:
        if args.closed_loop:
            raise UsageError("--closed-loop applies to NARX models (the model has no delays)")
        Y = net(X)
    names = _column_names(net, "targets") or [f"y{k}" for k in range(np.shape(Y)[-1])]
    if how is not None:
        names = [f"{name} ({how})" for name in names]
        print(f"matnet: {how}", file=sys.stderr)
    stream = open(_out(args.out), "w", newline="") if args.out else sys.stdout
    try:
        writer = csv.writer(stream)
        if net.classes is not None and args.proba:
            P = np.atleast_2d(Y)
            P = np.hstack([1 - P, P]) if P.shape[1] == 1 else P      # one logistic output: two classes
            writer.writerow([str(c) for c in net.classes])
            writer.writerows([[f"{v:.10g}" for v in row] for row in P])
        elif net.classes is not None:
            writer.writerow(["class"])
            writer.writerows([[label] for label in net.predict_classes(X)])
        else:
            writer.writerow(names if len(names) == np.shape(Y)[-1] else [f"y{k}" for k in range(np.shape(Y)[-1])])
            writer.writerows([["" if np.isnan(v) else f"{v:.10g}" for v in row] for row in np.atleast_2d(Y)])
    finally:
        if args.out:
            stream.close()
    return 0


def _matrix_text(name, M):
    return f"{name}  {M.shape}\n" + np.array2string(np.atleast_2d(M), precision=4, suppress_small=True,
                                                   max_line_width=120, threshold=400)


def cmd_show(args):
    net = _load_model(args.model)
    print(net.summary())
    for name, names in net.feature_names.items():
        print(f"  columns of {name}: {', '.join(names)}")
    if net.classes is not None:
        print(f"  classes: {', '.join(map(str, net.classes))}")
    for c in net.connections.values():
        op = operator(net.weights[c.key])
        stored = "" if op.kind == "dense" else f", {op.kind}: {op.n_stored} numbers stored"
        print(f"  {c.label}: {np.prod(op.shape)} weights{stored}")
    if net.training:
        t = net.training
        print(f"trained with {t.get('algorithm')}: {t.get('epochs')} epochs, best {t.get('best_epoch')}, "
              f"stopped: {t.get('stop_reason')}")
    if args.matrices:
        for key, W in net.weights.items():
            print(_matrix_text(f"W[{key[0]}→{key[1]}]", np.asarray(W)))
        for name, b in net.biases.items():
            print(_matrix_text(f"b[{name}]", b))
    if args.adjacency:
        A, nodes = net.adjacency()
        for d, M in (A.items() if isinstance(A, dict) else [(0, A)]):
            print(f"adjacency A_{d} (rows receive, columns send); nodes: {', '.join(map(str, nodes))}")
            print(np.array2string(M.toarray(), precision=3, suppress_small=True, max_line_width=160, threshold=2000))
    if args.picture:
        from .plot import network      # matplotlib, an optional dependency
        network(net).savefig(args.picture, dpi=120)
        print(f"wrote {args.picture}")
    return 0


def cmd_explain(args):
    net = _load_model(args.model)
    if net.is_dynamic:
        if args.data is None or args.sample is not None:
            raise UsageError("a model with delays explains the first time steps of a DATA file "
                             "(--row N: the first N steps)")
        closed, U = _input_series(net, _input_matrix(net, args)[0])
        print(closed.explain(U, format=args.format, max_samples=args.row or 3))
        return 0
    if (args.sample is None) == (args.row is None):
        raise UsageError("give either --sample \"v1,v2,...\" or --row N DATA")
    if args.sample is not None:
        try:
            x = np.array([float(v) for v in args.sample.split(",")])
        except ValueError:
            raise UsageError(f"--sample must be comma-separated numbers, got {args.sample!r}") from None
    else:
        if args.data is None:
            raise UsageError("--row needs a DATA file")
        X, _ = _input_matrix(net, args)
        if not 1 <= args.row <= len(X):
            raise UsageError(f"--row must be between 1 and {len(X)} (data rows), got {args.row}")
        x = X[args.row - 1]
    n_in = sum(net.inputs.values())
    if x.size != n_in:
        raise UsageError(f"the model takes {n_in} input values, got {x.size}")
    print(net.explain(x, format=args.format))
    return 0


def _export_csv(net, folder):
    folder.mkdir(exist_ok=True)
    manifest = {"format": "matnet-csv", "convention": "W is (n_out, n_in): rows receive, columns send",
                "feature_names": net.feature_names, "classes": net.classes, "files": []}

    def write(stem, array, **info):
        path = folder / f"{stem}.csv"
        np.savetxt(path, np.atleast_2d(array), delimiter=",", fmt="%.17g")
        manifest["files"].append({"file": path.name, "shape": list(np.shape(array)), **info})
    for (s, t), W in net.weights.items():
        write(f"W_{s}_{t}", W, kind="weight", source=s, target=t, delays=list(net.connections[s, t].delays))
    for name, b in net.biases.items():
        write(f"b_{name}", b[:, None], kind="bias", layer=name)
    for side, scalings in (("input", net.input_scaling), ("output", net.output_scaling)):
        for name, sc in scalings.items():
            write(f"scaling_{side}_{name}", np.column_stack([sc.scale, sc.shift, sc.value]),
                  kind=f"{side} scaling ({sc.kind}): columns scale, shift, value; u = x * scale + shift",
                  name=name)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


_CODE_SUFFIX = {"python": ".py", "c": ".c", "matlab": ".m"}


def _export_code(net, args, stem):
    """``matnet export --format python|c|matlab``: the network as source code."""
    if args.dtype and args.format != "c":
        raise UsageError(f"--dtype applies to --format c only, not {args.format}")
    bits = {getattr(W, "bits", None) for W in net.weights.values()} - {None}
    dtype = args.dtype or (f"int{max(bits)}" if bits else "double")
    if dtype in ("int8", "int16") and not bits:
        net = _quantized(net, args, int(dtype[3:]))
    elif args.calibration:
        raise UsageError("--calibration quantises a float model: give it with --dtype int8 or int16")
    suffix = _CODE_SUFFIX[args.format]
    target = _out(args.out or (stem.parent / f"{args.name}{suffix}" if args.name else stem.with_suffix(suffix)))
    name = args.name or None
    try:
        if args.format == "python":
            result = export.to_python(net, target, name=name)
        elif args.format == "matlab":
            result = export.to_matlab(net, target, name=name)
        else:
            result = export.to_c(net, target, dtype=dtype, name=name)
    except ValueError as e:
        raise UsageError(str(e)) from None
    print(result)
    return 0


def _quantized(net, args, bits):
    """The model quantised to ``bits`` for an integer export: input ranges measured on
    ``--calibration`` data, or taken from bounded sources without it."""
    calibration, targets, initial = None, None, None
    if args.calibration:
        data = argparse.Namespace(data=args.calibration, inputs=args.inputs, missing=args.missing,
                                  targets=args.targets)
        calibration, targets, initial, _ = _analysis_data(net, data)
    try:
        quantized = compress.quantize(net, bits=bits, scheme=args.scheme, calibration=calibration,
                                      initial=initial, targets=targets if net.classes is None else None)
    except ValueError as e:
        raise UsageError(f"--dtype int{bits}: {e}".replace("pass calibration data (calibration=X)",
                                                            "give --calibration DATA")) from None
    print(quantized.quantization, file=sys.stderr)
    return quantized


def cmd_export(args):
    net = _load_model(args.model)
    stem = Path(args.model).with_suffix("")
    if args.format in _CODE_SUFFIX:
        return _export_code(net, args, stem)
    if args.dtype or args.name or args.calibration:
        raise UsageError(f"--dtype, --name and --calibration apply to code (python, c, matlab), not {args.format}")
    if args.format == "npz":
        target = _out(args.out or f"{stem}_export.npz")
        net.save(target)
    elif args.format == "csv":
        target = _export_csv(net, _out(args.out or f"{stem}_csv"))
    else:
        try:
            from .interop.onnx import to_onnx
        except ImportError as e:
            raise UsageError(f"ONNX export is not available: {e}") from None
        target = _out(args.out or f"{stem}.onnx")
        to_onnx(net, target)
    print(f"wrote {target}")
    return 0


def _analysis_data(net, args):
    """``(X, T, initial, note)``: the model's inputs and, when the file has them, its
    targets (series with their initial states for a model with delays)."""
    X, table = _input_matrix(net, args)
    T = _measured_outputs(net, table, args.targets)
    note = None if T is not None else "no target columns (name them with --targets): no intervals, no permutation"
    if not net.is_dynamic:
        return X, T, None, note
    U = _input_series(net, X)[1]
    if T is None:
        if any(k in net.inputs for k in net.feedback):
            raise UsageError("an open-loop NARX model needs its measured output columns (--targets)")
        return U, None, None, note
    inputs, targets, initial = prepare_timeseries(net, U, T)
    return inputs, targets, initial, note


def cmd_analyze(args):
    if args.repeats < 1:
        raise UsageError(f"--repeats must be at least 1, got {args.repeats}")
    out = _out(args.out)
    net = _load_model(args.model)
    X, T, initial, note = _analysis_data(net, args)
    with threads(args.threads):
        result = analyze(net, X, T, initial=initial, n_repeats=args.repeats, seed=args.seed)
    written = []

    def write(name, table):
        if table is not None:
            table.to_csv(out / name)
            written.append(out / name)
    out.mkdir(exist_ok=True)
    write("importance.csv", result.importance)
    write("intervals.csv", result.intervals)
    write("spectra.csv", result.spectra)
    if result.importance is not None:
        print(result.importance.to_text())
    if result.intervals is not None:
        print(f"\n{result.intervals_line()}")
    for line in ([note] if note else []) + result.notes:
        print(f"note: {line}", file=sys.stderr)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("pictures skipped: they need matplotlib (pip install matnet[plot])", file=sys.stderr)
    else:
        from .plot.analysis import analysis_figures
        for name, (fig, _) in analysis_figures(net, result, None if net.is_dynamic else X).items():
            fig.savefig(out / f"{name}.png", dpi=110)
            written.append(out / f"{name}.png")
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


# -- the parser ------------------------------------------------------------------------

def _model_argument(p):
    p.add_argument("model", help="a model file (.npz) written by matnet")


def _data_options(p):
    p.add_argument("--inputs", help="input columns: names, 0-based indices or ranges a:b "
                   "(default: all but the targets)")
    p.add_argument("--missing", choices=["error", "drop"], default="error",
                   help="rows with a missing value: stop with an error (default) or drop them")


def build_parser():
    parser = _Parser(prog="matnet", description="Neural networks written and read as matrices.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    debug = _Parser(add_help=False)           # --debug is also taken after the command
    debug.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    def command(name, **kwargs):
        return sub.add_parser(name, parents=[debug], **kwargs)

    p = command("train", help="train a network on a data file (or the bundled demo)",
                       description="Train a network; writes DIR/model.npz, DIR/report.html and DIR/history.csv.")
    p.add_argument("data", nargs="?", help="CSV (with or without header), .npy/.npz or NNC data set CSV; "
                   "omitted: the bundled maglev NARX demo")
    _data_options(p)
    p.add_argument("--targets", help="target columns (default: the last column)")
    p.add_argument("--hidden", default="auto", help="hidden layer sizes, e.g. 10,5 (default auto: one layer of "
                   "max(10, (inputs + outputs) / 2) neurons)")
    p.add_argument("--activation", default="tanh", help="hidden activation (default tanh)")
    p.add_argument("--task", choices=["auto", "regression", "classification"], default="auto",
                   help="auto: classification when the target column holds text labels")
    p.add_argument("--algorithm", choices=sorted(ALGORITHMS),
                   help="training algorithm (default: lm for regression, scg for classification, br for NARX)")
    p.add_argument("--loss", help=f"{', '.join(LOSSES)} (default: cross_entropy for a classifier, "
                   "mse for regression and for lm/br)")
    p.add_argument("--division", default="0.7,0.15,0.15",
                   help="train,validation,test fractions, or random|block|interleaved optionally followed by "
                        "fractions (default 0.7,0.15,0.15; random, stratified for classes; NARX: block)")
    p.add_argument("--epochs", type=int, help="maximum epochs (default: 200 for adam/sgd/rmsprop, 1000 otherwise, "
                   "100 with --quick)")
    p.add_argument("--lr", type=float, help="learning rate of adam/sgd/rmsprop (default 0.01, rmsprop 0.001)")
    p.add_argument("--batch-size", type=int, help="minibatch size of adam/sgd/rmsprop (default min(200, n))")
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty l2/2·|W|² on the weights (default 0)")
    p.add_argument("--max-fail", type=int, help="validation failures before stopping; 0: no early stopping "
                   "(default 6; adam/sgd/rmsprop 10; br: none)")
    p.add_argument("--goal", type=float, default=0.0, help="stop when the training loss reaches it (default 0)")
    p.add_argument("--threads", type=int, help="BLAS threads (default: all)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--narx", action="store_true", help="a NARX model of time series (one row per time step)")
    p.add_argument("--input-delays", default="1:2", help="NARX input delays (default 1:2)")
    p.add_argument("--feedback-delays", default="1:2", help="NARX feedback delays (default 1:2)")
    p.add_argument("--out", default="matnet-out", help="output folder (default matnet-out)")
    p.add_argument("--quick", action="store_true", help="a short run (smaller demo data, 100 epochs)")
    p.set_defaults(func=cmd_train)

    p = command("predict", help="outputs of a model for a data file, as CSV")
    _model_argument(p)
    p.add_argument("data", help="CSV (with or without header), .npy/.npz or NNC data set CSV")
    _data_options(p)
    p.add_argument("--proba", action="store_true", help="a classifier's class probabilities, one column per class")
    p.add_argument("--by-position", action="store_true",
                   help="take the first input columns in order even when the header does not name the "
                        "model's inputs")
    p.add_argument("--closed-loop", action="store_true",
                   help="NARX: free-run on its own predictions from the first measured steps (default: "
                        "one step ahead from the measured output columns, open loop)")
    p.add_argument("--out", help="CSV file to write (default: standard output)")
    p.set_defaults(func=cmd_predict)

    p = command("show", help="architecture, parameter counts, matrices, pictures")
    _model_argument(p)
    p.add_argument("--matrices", action="store_true", help="print every weight matrix and bias vector")
    p.add_argument("--adjacency", action="store_true", help="print the adjacency matrix")
    p.add_argument("--picture", metavar="FILE.png", help="draw the network into a PNG file")
    p.set_defaults(func=cmd_show)

    p = command("explain", help="the step-by-step computation for one sample")
    _model_argument(p)
    p.add_argument("data", nargs="?", help="data file for --row")
    p.add_argument("--sample", help='input values, e.g. "0.5,1.2"')
    p.add_argument("--row", type=int, help="data row to explain (the first data row is 1); for a model "
                   "with delays, how many time steps to explain")
    p.add_argument("--format", choices=["text", "markdown", "latex", "html"], default="text",
                   help="text (default), markdown, latex or compact html")
    _data_options(p)
    p.set_defaults(func=cmd_explain)

    p = command("analyze", help="importance of the inputs, confidence intervals, spectra of the weights",
                description="After training: importance of the inputs (Garson, Olden, sensitivity, permutation), "
                            "confidence intervals of every weight and bias with the NIC, and the spectra of the "
                            "weight matrices; writes CSV tables and pictures into DIR.")
    _model_argument(p)
    p.add_argument("data", help="data file with the model's input columns (and its target columns for "
                   "intervals and permutation importance)")
    _data_options(p)
    p.add_argument("--targets", help="target columns (default: the columns the model was trained on, when present)")
    p.add_argument("--repeats", type=int, default=5, help="shuffles per input of the permutation importance "
                   "(default 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the shuffles (default 0)")
    p.add_argument("--threads", type=int, help="BLAS threads (default: all)")
    p.add_argument("--out", default="matnet-analysis", help="output folder (default matnet-analysis)")
    p.set_defaults(func=cmd_analyze)

    p = command("export", help="write a model as code (Python, C, MATLAB), ONNX, .npz or CSV matrices",
                description="Write a model as standalone code that computes its outputs (python: NumPy only; "
                            "c: a C99 header and source; matlab: a function file that also runs in Octave), "
                            "or as ONNX, .npz or CSV matrices.")
    _model_argument(p)
    p.add_argument("--format", choices=["python", "c", "matlab", "onnx", "npz", "csv"], required=True,
                   help="python, c, matlab, onnx, npz or csv")
    p.add_argument("--dtype", choices=list(export.DTYPES),
                   help="C arithmetic: double (default), float, or the integer products of int8/int16 "
                        "(a float model is quantised first; default for a quantised model: its bits)")
    p.add_argument("--name", help="name of the exported function (default: from the output file's name)")
    p.add_argument("--calibration", metavar="DATA",
                   help="data whose input ranges set the integer grids when --dtype int8/int16 quantises a "
                        "float model (default: ranges of min-max scaled inputs and bounded activations)")
    p.add_argument("--scheme", choices=["symmetric-per-row", "symmetric-per-tensor"], default="symmetric-per-row",
                   help="weight scales of that quantisation: one per row (default) or per matrix")
    p.add_argument("--targets", help="target columns of --calibration (the measured outputs of an open-loop "
                   "NARX model)")
    _data_options(p)
    p.add_argument("--out", help="output file (folder for csv; for c the header goes beside it)")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = _parse(build_parser(), argv)
        return args.func(args)
    except SystemExit as e:            # --help
        return int(e.code or 0)
    except UsageError as e:
        if debug:
            raise
        print(f"matnet: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        if debug:
            raise
        print(f"matnet: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("matnet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:            # the reader went away (matnet predict ... | head): end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:             # a runtime failure: one line, the traceback with --debug
        if debug:
            raise
        code = 2 if isinstance(e, DataError) else 1
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"matnet: error: {message}" + ("" if code == 2 else "  (--debug shows the traceback)"),
              file=sys.stderr)
        return code
