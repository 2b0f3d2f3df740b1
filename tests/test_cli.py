import csv
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import matnet as mn
from matnet.cli import main


def _write_csv(path, header, rows, delimiter=","):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(150, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    return _write_csv(tmp_path / "reg.csv", ["a", "b", "target"], np.column_stack([X, y]).tolist())


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_predict_show_explain_export_regression(regression_csv, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(["train", regression_csv, "--hidden", "6", "--epochs", "50", "--out", out], capsys)
    assert code == 0 and "loss (mse)" in stdout and "stopped:" in stdout
    assert (out / "model.npz").exists() and (out / "history.csv").exists()
    net = mn.load(out / "model.npz")
    assert net.feature_names == {"x": ["a", "b"], "y": ["target"]}      # kept in the file
    history = list(csv.reader(open(out / "history.csv")))
    assert history[0][:3] == ["epoch", "train_loss", "val_loss"] and len(history) == net.training["epochs"] + 2
    code, stdout, _ = _run(["predict", out / "model.npz", regression_csv], capsys)
    rows = list(csv.reader(stdout.splitlines()))
    assert code == 0 and rows[0] == ["target"]
    data = np.loadtxt(regression_csv, delimiter=",", skiprows=1)
    np.testing.assert_allclose(np.array(rows[1:], float)[:, 0], net(data[:, :2])[:, 0], rtol=1e-8)
    code, stdout, _ = _run(["show", out / "model.npz", "--matrices", "--adjacency",
                            "--picture", tmp_path / "net.png"], capsys)
    assert code == 0 and "W[x→h1]  (6, 2)" in stdout and "adjacency A_0" in stdout
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, stdout, _ = _run(["explain", out / "model.npz", "--sample", "0.5,0.2"], capsys)
    assert code == 0 and "x̃ = gain ⊙ (x − xmin) + ymin" in stdout
    assert "h1 = tanh(W[x→h1] · x̃ + b[h1])" in stdout
    last = stdout.strip().splitlines()[-1]                 # the scaled model's output, as predict gives it
    assert last == f"Output: y = [{np.round(net(np.array([0.5, 0.2]))[0], 4):g}]", last
    code, stdout, _ = _run(["explain", out / "model.npz", regression_csv, "--row", "3"], capsys)
    assert code == 0 and "Sample:" in stdout
    code, after, _ = _run(["explain", out / "model.npz", "--row", "3", regression_csv], capsys)   # README's order
    assert code == 0 and after == stdout
    code, _, err = _run(["explain", out / "model.npz", regression_csv, "--row", "3", "--bogus"], capsys)
    assert code == 2 and err.count("matnet: error:") == 1 and "explain: unrecognized arguments: --bogus" in err
    code, stdout, _ = _run(["explain", out / "model.npz", "--sample", "0.5,0.2", "--debug"], capsys)
    assert code == 0 and "Output:" in stdout                # --debug after the command
    code, _, err = _run(["export", out / "model.npz", "--format", "csv", "--out", tmp_path / "csv"], capsys)
    assert code == 0, err
    manifest = (tmp_path / "csv" / "manifest.json").read_text()
    assert code == 0 and '"W_x_h1.csv"' in manifest
    np.testing.assert_allclose(np.loadtxt(tmp_path / "csv" / "W_x_h1.csv", delimiter=",", ndmin=2),
                               net.weights["x", "h1"], rtol=1e-15)
    code, _, _ = _run(["export", out / "model.npz", "--format", "npz", "--out", tmp_path / "copy.npz"], capsys)
    assert code == 0 and mn.load(tmp_path / "copy.npz").get_flat().tobytes() == net.get_flat().tobytes()


def test_classification_with_string_labels(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "up", "down")
    path = _write_csv(tmp_path / "cls.csv", None, [[f"{a:.6f}", f"{b:.6f}", c] for (a, b), c in zip(X, labels)],
                      delimiter=";")
    code, stdout, _ = _run(["train", path, "--hidden", "4", "--epochs", "60", "--out", tmp_path / "c"], capsys)
    assert code == 0 and "accuracy" in stdout
    code, stdout, _ = _run(["predict", tmp_path / "c" / "model.npz", path, "--out", tmp_path / "p.csv"], capsys)
    predicted = [r[0] for r in csv.reader(open(tmp_path / "p.csv"))]
    assert predicted[0] == "class" and set(predicted[1:]) <= {"up", "down"}
    assert np.mean(np.array(predicted[1:]) == labels) > 0.9


def test_nnc_data_set_with_matrix_csvs(tmp_path, capsys):
    rng = np.random.default_rng(2)
    rows = []
    for i in range(40):
        label = i % 2
        m = rng.normal(size=(3, 4)) + 2 * label
        np.savetxt(tmp_path / f"m{i}.csv", m, delimiter=",")
        rows.append([f"m{i}.csv", label])
    path = _write_csv(tmp_path / "nnc.csv", ["x:image", "y:label"], rows)
    arrays = mn.data.read_nnc(path)
    assert arrays["x"].shape == (40, 3, 4) and arrays["y"].dtype == np.int64
    code, stdout, _ = _run(["train", path, "--hidden", "5", "--epochs", "40", "--out", tmp_path / "n"], capsys)
    assert code == 0 and "accuracy" in stdout
    assert mn.load(tmp_path / "n" / "model.npz").classes == [0, 1]
    code, stdout, _ = _run(["predict", tmp_path / "n" / "model.npz", path], capsys)
    predicted = [int(r[0]) for r in csv.reader(stdout.splitlines()[1:])]
    assert code == 0 and np.mean(np.array(predicted) == np.arange(40) % 2) > 0.9


def _series_csv(path, n, seed):
    """A plant ``y(t) = 0.6 y(t-1) + tanh(u(t-1))`` under random input, as CSV columns u, y."""
    u = np.random.default_rng(seed).uniform(-1, 1, n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.6 * y[t - 1] + np.tanh(u[t - 1])
    return _write_csv(path, ["u", "y"], np.column_stack([u, y]).tolist()), u, y


def test_narx_series(tmp_path, capsys):
    path, _, _ = _series_csv(tmp_path / "series.csv", 300, 3)
    code, stdout, _ = _run(["train", path, "--narx", "--input-delays", "1:2", "--feedback-delays", "1",
                            "--hidden", "4", "--epochs", "60", "--out", tmp_path / "s"], capsys)
    assert code == 0 and "closed loop on the last" in stdout
    net = mn.load(tmp_path / "s" / "model.npz")
    assert net.connections["x", "h1"].delays == (1, 2) and net.connections["y_fb", "h1"].delays == (1,)
    assert mn.load(tmp_path / "s" / "model_closed_loop.npz").connections["y", "h1"].delays == (1,)


def test_predict_and_explain_a_narx_model_with_several_inputs(tmp_path, capsys):
    rng = np.random.default_rng(4)
    net = mn.Network(seed=0)
    for name, size in (("a", 1), ("b", 2), ("y_fb", 1)):
        net.add_input(name, size)
    net.add_layer("h1", 3)
    net.add_layer("y", 1, "linear")
    net.connect("a", "h1", delays=[1, 2])
    net.connect("b", "h1", delays=[0])
    net.connect("y_fb", "h1", delays=[1])
    net.connect("h1", "y")
    net.feedback = {"y_fb": "y"}
    net.save(tmp_path / "m.npz")
    data = rng.normal(size=(20, 3))
    path = _write_csv(tmp_path / "u.csv", ["a", "b1", "b2"], data.tolist())
    code, stdout, _ = _run(["predict", tmp_path / "m.npz", path], capsys)
    lines = stdout.splitlines()
    assert code == 0 and lines[0] == "y0 (closed loop from zero states)"     # no measured outputs in the file
    Y = np.array([float(line) for line in lines[1:]])
    expected, _ = net.closed_loop().simulate({"a": data[:, :1], "b": data[:, 1:]})
    np.testing.assert_allclose(Y, expected[:, 0], rtol=1e-9)
    code, stdout, _ = _run(["explain", tmp_path / "m.npz", path, "--row", "2"], capsys)
    assert code == 0 and "Step 2 of 20" in stdout and "[a(t-1); a(t-2)]" in stdout and "Step 3" not in stdout


def test_demo_quick_writes_the_report(tmp_path, capsys):
    code, stdout, _ = _run(["train", "--quick", "--out", tmp_path / "demo"], capsys)
    assert code == 0 and "levitated magnet" in stdout
    report = tmp_path / "demo" / "report.html"
    assert report.exists() and "data:image/png;base64" in report.read_text()


@pytest.mark.parametrize("argv,code,message", [
    (["train", "nope.csv"], 2, "nope.csv: no such file"),
    (["train", "{reg}", "--targets", "zzz"], 2, "unknown column 'zzz'"),
    (["train", "{reg}", "--hidden", "ten"], 2, "--hidden must be comma-separated integers"),
    (["train", "{reg}", "--division", "0.5,0.2"], 2, "--division fractions must be 2 or 3 numbers summing to 1"),
    (["train", "{reg}", "--algorithm", "magic"], 2, "invalid choice: 'magic'"),
    (["train", "{bad}"], 2, "line 3, column 'b': 'x' is not a number"),
    (["train", "{gap}"], 2, "line 2, column 'a': missing value"),
    (["predict", "{corrupt}", "{reg}"], 1, "corrupt.npz: not a matnet model file"),
    (["explain", "{model}"], 2, "give either --sample"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["train", "{inf}"], 2, "line 3, column 'b': '-inf' is not a finite number"),
    (["train", "{one}"], 2, "training needs at least two columns (inputs and a target), the file has 1"),
    (["train", "{tiny}"], 1, "division (0.7, 0.15, 0.15) needs at least 4 samples (one in each set), got 1"),
    (["train", "{reg}", "--task", "classification"], 2, "target 'target' has non-integer values"),
    (["predict", "{model}", "{reg}", "--out", "{missing}/p.csv"], 2, "--out: the folder"),
    (["export", "{model}", "--format", "npz", "--out", "{missing}/m.npz"], 2, "--out: the folder"),
    (["export", "{model}", "--format", "csv", "--out", "{missing}/csv"], 2, "--out: the folder"),
    (["train", "{reg}", "--out", "{missing}/run"], 2, "--out: the folder"),
])
def test_user_errors_are_one_line_without_traceback(argv, code, message, regression_csv, tmp_path, capsys):
    bad = _write_csv(tmp_path / "bad.csv", ["a", "b", "t"], [[1, 2, 3], ["1", "x", "3"]])
    gap = _write_csv(tmp_path / "gap.csv", ["a", "b", "t"], [["", 2, 3], [1, 2, 3]])
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip")
    model = tmp_path / "m.npz"
    mn.mlp([2, 2, 1], seed=0).save(model)
    inf = _write_csv(tmp_path / "inf.csv", ["a", "b", "t"], [[1, 2, 3], [1, "-inf", 3]])
    one = _write_csv(tmp_path / "one.csv", ["a"], [[1], [2], [3]])
    tiny = _write_csv(tmp_path / "tiny.csv", ["a", "t"], [[1, 2]])
    names = {"reg": regression_csv, "bad": bad, "gap": gap, "corrupt": corrupt, "model": model, "inf": inf,
             "one": one, "tiny": tiny, "missing": tmp_path / "no" / "such"}
    got, stdout, stderr = _run([a.format(**names) for a in argv], capsys)
    assert got == code
    assert message in stderr and len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_missing_drop(tmp_path, capsys):
    rows = [[i / 10, (i / 10) ** 2] for i in range(40)] + [["", 1.0]]
    path = _write_csv(tmp_path / "gaps.csv", ["x", "y"], rows)
    code, _, _ = _run(["train", path, "--missing", "drop", "--hidden", "3", "--epochs", "5",
                       "--out", tmp_path / "g"], capsys)
    assert code == 0


def test_python_m_matnet_help():
    result = subprocess.run([sys.executable, "-m", "matnet", "train", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--feedback-delays" in result.stdout and "--division" in result.stdout
    result = subprocess.run([sys.executable, "-m", "matnet", "show", "missing.npz"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip() == "matnet: error: missing.npz: no such file"


def test_export_onnx_runs_in_onnxruntime(regression_csv, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    code, _, err = _run(["train", regression_csv, "--hidden", "4", "--epochs", "20", "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    code, stdout, err = _run(["export", tmp_path / "o" / "model.npz", "--format", "onnx",
                              "--out", tmp_path / "m.onnx"], capsys)
    assert code == 0, err
    net = mn.load(tmp_path / "o" / "model.npz")
    X = np.random.default_rng(0).uniform(-1, 1, size=(5, 2))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": X})
    np.testing.assert_allclose(out, net(X), rtol=1e-12)


@pytest.mark.parametrize("options,named", [
    (["--epochs", "-1"], "--epochs must be an integer in [0, inf), got -1"),
    (["--hidden", "10,,5"], "--hidden must be comma-separated integers"),
    (["--activation", "nope"], "--activation: unknown activation 'nope'"),
    (["--seed", "-5"], "--seed must be a non-negative integer"),
    (["--l2", "-1"], "--l2 must be a number in [0, inf)"),
    (["--lr", "0"], "--lr must be a number in (0, inf)"),
    (["--batch-size", "0"], "--batch-size must be an integer in [1, inf)"),
    (["--max-fail", "-2"], "--max-fail must be an integer in [1, inf)"),
    (["--goal", "-1"], "--goal must be a number in [0, inf)"),
    (["--threads", "0"], "--threads must be a positive integer"),
    (["--loss", "foo"], "--loss must be one of mse, sse"),
    (["--division", "0.5,0.2"], "--division fractions must be 2 or 3 numbers summing to 1"),
])
def test_bad_training_options_are_usage_errors_that_write_nothing(regression_csv, tmp_path, capsys, options, named):
    out = tmp_path / "never"
    code, _, err = _run(["train", regression_csv, "--out", out, *options], capsys)
    assert code == 2 and err.count("matnet: error:") == 1 and named in err, err
    assert not out.exists()


def test_training_options_reach_fit(regression_csv, tmp_path, capsys):
    code, _, err = _run(["train", regression_csv, "--hidden", "4", "--algorithm", "adam", "--lr", "0.01",
                         "--batch-size", "16", "--epochs", "5", "--l2", "0.001", "--loss", "sse", "--max-fail", "0",
                         "--division", "block,0.8,0.1,0.1", "--threads", "1", "--goal", "0", "--out",
                         tmp_path / "o"], capsys)
    assert code == 0, err
    history = list(csv.reader(open(tmp_path / "o" / "history.csv")))
    assert len(history) == 1 + 6 and float(history[-1][history[0].index("lr")]) == 0.01
    net = mn.load(tmp_path / "o" / "model.npz")
    assert net.training["loss"] == "sse" and net.training["algorithm"] == "adam"
    report = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert f"<th>data</th><td><code>{regression_csv}</code>" in report and "--batch-size 16" in report
    assert "<th>date</th>" in report and 'alt="outputs against targets per split"' in report
    code, stdout, _ = _run(["train", "--help"], capsys)
    for flag in ("--loss", "--lr", "--batch-size", "--max-fail", "--l2", "--division", "--epochs", "--goal",
                 "--threads"):
        assert flag in stdout
    assert "default 0.7,0.15,0.15" in stdout.replace("\n", " ").replace("  ", " ")


def test_classes_train_with_lm_on_the_command_line(tmp_path, capsys):
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    path = _write_csv(tmp_path / "iris.csv", ["a", "b", "c", "d", "species"],
                      [[*map(str, row), c] for row, c in zip(X, names)])
    code, stdout, err = _run(["train", path, "--hidden", "5", "--algorithm", "lm", "--out", tmp_path / "i"], capsys)
    assert code == 0 and "accuracy" in stdout, err
    code, _, _ = _run(["predict", tmp_path / "i" / "model.npz", path, "--out", tmp_path / "p.csv"], capsys)
    predicted = [r[0] for r in csv.reader(open(tmp_path / "p.csv"))][1:]
    assert np.mean(np.array(predicted) == names) > 0.9


def test_ctrl_c_during_train_saves_the_run_as_stopped_by_the_user(tmp_path):
    """A first SIGINT ends training after the epoch; model, history and report are
    written as after a finished run, and the model records why it stopped."""
    import signal
    import time
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 8))
    data = _write_csv(tmp_path / "big.csv", [*"abcdefgh", "t"], np.column_stack([X, X.sum(axis=1)]).tolist())
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "matnet", "train", str(data), "--algorithm", "adam",
                             "--epochs", "100000", "--max-fail", "0", "--hidden", "32", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)                                 # imports and data read; then it trains for minutes
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "stopping after this epoch" in stderr
    net = mn.load(out / "model.npz")
    assert net.training["stop_reason"] == "stopped by the user"
    assert (out / "history.csv").exists() and (out / "report.html").exists()


def test_predict_a_narx_model_open_loop_or_closed_loop_on_its_training_csv(tmp_path, capsys):
    path, u, y = _series_csv(tmp_path / "series.csv", 200, 5)
    code, _, err = _run(["train", path, "--narx", "--hidden", "3", "--epochs", "20", "--out", tmp_path / "s"],
                        capsys)
    assert code == 0, err
    net = mn.load(tmp_path / "s" / "model.npz")
    from matnet.data import prepare_timeseries
    code, stdout, err = _run(["predict", tmp_path / "s" / "model.npz", path], capsys)
    rows = list(csv.reader(stdout.splitlines()))
    assert code == 0 and rows[0] == ["y (open loop: one step ahead from the measured outputs)"]
    assert rows[1] == [""] and rows[2] == [""] and len(rows) == 201        # delays 1:2 still filling
    inputs, _, initial = prepare_timeseries(net, u[:, None], y[:, None])
    expected, _ = net.simulate(inputs, initial)
    np.testing.assert_allclose(np.array(rows[3:], float)[:, 0], expected[:, 0], rtol=1e-8)
    code, stdout, _ = _run(["predict", tmp_path / "s" / "model.npz", path, "--closed-loop"], capsys)
    rows = list(csv.reader(stdout.splitlines()))
    assert rows[0] == ["y (closed loop: free run from the first measured steps)"]
    closed = net.closed_loop()
    inputs, _, initial = prepare_timeseries(closed, u[:, None], y[:, None])
    expected, _ = closed.simulate(inputs, initial)
    np.testing.assert_allclose(np.array(rows[3:], float)[:, 0], expected[:, 0], rtol=1e-8)


def test_classification_of_an_integer_measurement_gets_a_regression_hint(tmp_path, capsys):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(120, 2))
    path = _write_csv(tmp_path / "counts.csv", ["a", "b", "count"],
                      [[f"{a:.4f}", f"{b:.4f}", int(100 + 40 * a)] for a, b in X])
    code, _, err = _run(["train", path, "--task", "classification", "--epochs", "2", "--out", tmp_path / "o"], capsys)
    assert code == 0 and "classes; if it is a measured quantity, --task regression fits it" in err


def test_integer_targets_with_few_values_get_a_classification_hint(tmp_path, capsys):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 2))
    path = _write_csv(tmp_path / "ints.csv", ["a", "b", "grade"],
                      [[f"{a:.4f}", f"{b:.4f}", int(a > 0) + int(b > 0)] for a, b in X])
    code, _, err = _run(["train", path, "--epochs", "3", "--out", tmp_path / "o"], capsys)
    assert code == 0 and err.count("hint:") == 1 and "--task classification" in err


def test_a_closed_pipe_ends_quietly(regression_csv, tmp_path):
    model = tmp_path / "m.npz"
    mn.mlp([2, 2, 1], seed=0).save(model)
    big = _write_csv(tmp_path / "big.csv", ["a", "b"], np.random.default_rng(0).normal(size=(20000, 2)).tolist())
    result = subprocess.run(f"{sys.executable} -m matnet predict {model} {big} | head -2", shell=True,
                            capture_output=True, text=True)
    assert len(result.stdout.splitlines()) == 2 and result.stderr == ""


def test_predict_refuses_unknown_column_names_and_writes_probabilities(regression_csv, tmp_path, capsys):
    out = tmp_path / "r"
    assert _run(["train", regression_csv, "--hidden", "3", "--epochs", "5", "--out", out], capsys)[0] == 0
    data = np.loadtxt(regression_csv, delimiter=",", skiprows=1)
    other = _write_csv(tmp_path / "other.csv", ["p", "q", "r"], data.tolist())
    code, _, err = _run(["predict", out / "model.npz", other], capsys)
    assert code == 2 and "the model's input columns a, b are not in the file" in err
    code, stdout, _ = _run(["predict", out / "model.npz", other, "--by-position"], capsys)
    assert code == 0 and len(stdout.splitlines()) == len(data) + 1
    code, _, err = _run(["predict", out / "model.npz", other, "--by-position", "--proba"], capsys)
    assert code == 2 and "--proba needs a classifier" in err

    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 2))
    labels = np.array(["low", "mid", "high"])[(X[:, 0] > -0.4).astype(int) + (X[:, 0] > 0.4)]
    path = _write_csv(tmp_path / "cls.csv", ["a", "b", "level"], [[f"{a:.5f}", f"{b:.5f}", c] for (a, b), c in
                                                                    zip(X, labels)])
    assert _run(["train", path, "--hidden", "4", "--epochs", "30", "--out", tmp_path / "c"], capsys)[0] == 0
    code, stdout, _ = _run(["predict", tmp_path / "c" / "model.npz", path, "--proba"], capsys)
    rows = list(csv.reader(stdout.splitlines()))
    net = mn.load(tmp_path / "c" / "model.npz")
    assert code == 0 and rows[0] == net.classes == ["high", "low", "mid"]
    P = np.array(rows[1:], float)
    np.testing.assert_allclose(P.sum(axis=1), 1, atol=1e-8)
    np.testing.assert_allclose(P, net(np.round(X, 5)), rtol=1e-7)      # the file holds 5 decimals


def test_column_and_class_names_travel_with_the_model(tmp_path, capsys):
    import json
    rng = np.random.default_rng(7)
    X = rng.normal(size=(80, 2))
    labels = np.where(X[:, 0] > 0, "east", "west")
    path = _write_csv(tmp_path / "names.csv", ["speed", "angle", "side"],
                      [[f"{a:.5f}", f"{b:.5f}", c] for (a, b), c in zip(X, labels)])
    assert _run(["train", path, "--hidden", "3", "--epochs", "20", "--out", tmp_path / "m"], capsys)[0] == 0
    model = tmp_path / "m" / "model.npz"
    net = mn.load(model)
    assert net.feature_names == {"x": ["speed", "angle"]} and net.classes == ["east", "west"]
    code, stdout, _ = _run(["show", model], capsys)
    assert "columns of x: speed, angle" in stdout and "classes: east, west" in stdout
    code, stdout, _ = _run(["explain", model, "--sample", "0.5,0.1"], capsys)
    assert "Columns: x = speed, angle" in stdout
    assert _run(["export", model, "--format", "csv", "--out", tmp_path / "csv"], capsys)[0] == 0
    manifest = json.loads((tmp_path / "csv" / "manifest.json").read_text())
    assert manifest["feature_names"] == {"x": ["speed", "angle"]} and manifest["classes"] == ["east", "west"]
    report = (tmp_path / "m" / "report.html").read_text(encoding="utf-8")
    assert "columns: x: speed, angle" in report and "classes: east, west" in report


def test_analyze_writes_tables_and_pictures(regression_csv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, _, _ = _run(["train", regression_csv, "--hidden", "3", "--epochs", "30", "--out", tmp_path / "r"], capsys)
    assert code == 0
    code, stdout, stderr = _run(["analyze", tmp_path / "r" / "model.npz", regression_csv, "--out", tmp_path / "a"],
                                capsys)
    assert code == 0, stderr
    assert "sensitivity" in stdout and "permutation" in stdout and "NIC" in stdout
    folder = tmp_path / "a"
    for name in ("importance.csv", "intervals.csv", "spectra.csv", "importance.png", "spectra.png",
                 "profile.png", "generalized_weights.png"):
        assert (folder / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(folder / "importance.csv")))
    assert [r["feature"] for r in rows] == ["a", "b"]                   # the CSV header's names
    net = mn.load(tmp_path / "r" / "model.npz")
    intervals = list(csv.DictReader(open(folder / "intervals.csv")))
    assert len(intervals) == net.n_params
    assert float(intervals[0]["estimate"]) == net.get_flat()[0]


def test_analyze_a_narx_model_and_its_errors(tmp_path, capsys):
    path, _, _ = _series_csv(tmp_path / "series.csv", 200, 4)
    assert _run(["train", path, "--narx", "--hidden", "3", "--epochs", "30", "--out", tmp_path / "s"], capsys)[0] == 0
    code, stdout, stderr = _run(["analyze", tmp_path / "s" / "model.npz", path, "--out", tmp_path / "a"], capsys)
    assert code == 0, stderr
    assert "olden" in stdout and "posterior" in stdout                 # trained with br: its posterior
    assert "garson needs a static network" in stderr
    only_inputs = _write_csv(tmp_path / "u.csv", ["u"], [[v] for v in np.linspace(-1, 1, 50)])
    code, _, stderr = _run(["analyze", tmp_path / "s" / "model.npz", only_inputs, "--out", tmp_path / "b"], capsys)
    assert code == 2 and "needs its measured output columns" in stderr and not (tmp_path / "b").exists()
    code, _, stderr = _run(["analyze", tmp_path / "s" / "model.npz", path, "--out", tmp_path / "no" / "c"], capsys)
    assert code == 2 and "does not exist" in stderr
    code, _, stderr = _run(["analyze", tmp_path / "s" / "model.npz", path, "--repeats", "0"], capsys)
    assert code == 2 and "--repeats must be at least 1" in stderr


def test_analyze_a_classifier_finds_its_label_column(tmp_path, capsys):
    """A classifier keeps the name of its label column: analyze reads the labels from
    it (text or integers), so intervals and permutation importance need no --targets."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 2))
    labels = np.where(X[:, 0] > 0.3, "high", np.where(X[:, 1] > 0, "mid", "low"))
    path = _write_csv(tmp_path / "cls.csv", ["a", "b", "kind"], [[f"{a:.6f}", f"{b:.6f}", c]
                                                                for (a, b), c in zip(X, labels)])
    assert _run(["train", path, "--hidden", "3", "--epochs", "40", "--out", tmp_path / "c"], capsys)[0] == 0
    code, stdout, stderr = _run(["analyze", tmp_path / "c" / "model.npz", path, "--out", tmp_path / "a"], capsys)
    assert code == 0, stderr
    assert "permutation" in stdout and "confidence intervals" in stdout and "--targets" not in stderr
    code, _, stderr = _run(["analyze", tmp_path / "c" / "model.npz", path, "--targets", "a,b",
                            "--out", tmp_path / "b"], capsys)
    assert code == 2 and "one target column" in stderr


def test_export_as_python_c_and_matlab(regression_csv, tmp_path, capsys):
    code, _, err = _run(["train", regression_csv, "--hidden", "4", "--epochs", "20", "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    model = tmp_path / "o" / "model.npz"
    net = mn.load(model)
    X = np.random.default_rng(0).uniform(-1, 1, size=(7, 2))
    code, out, err = _run(["export", model, "--format", "python", "--out", tmp_path / "plant.py"], capsys)
    assert code == 0, err
    assert f"wrote {tmp_path / 'plant.py'}" in out and "W[x→h1]     dense" in out
    spec = importlib.util.spec_from_file_location("plant", tmp_path / "plant.py")
    plant = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plant)
    np.testing.assert_allclose(plant.predict(X), net(X), rtol=1e-13)
    code, out, err = _run(["export", model, "--format", "c", "--name", "plant", "--out", tmp_path / "c" / "x.c"],
                          capsys)
    assert code == 2 and err.count("\n") == 1 and "--out: the folder" in err
    code, out, err = _run(["export", model, "--format", "c", "--name", "plant", "--out", tmp_path / "p.c"], capsys)
    assert code == 0, err
    assert "void plant_predict(const double *x, double *y);" in (tmp_path / "p.h").read_text()
    code, out, err = _run(["export", model, "--format", "matlab"], capsys)
    assert code == 0 and (tmp_path / "o" / "model.m").read_text().startswith("function [y1] = model(x1)")


def test_export_int8_quantises_a_float_model(regression_csv, tmp_path, capsys):
    code, _, err = _run(["train", regression_csv, "--hidden", "4", "--epochs", "20", "--out", tmp_path / "o"], capsys)
    model = tmp_path / "o" / "model.npz"
    code, out, err = _run(["export", model, "--format", "c", "--dtype", "int8", "--out", tmp_path / "q.c"], capsys)
    assert code == 0, err
    assert "quantised to 8 bits" in err and "int32" in err          # the report, from the scaling's range
    source = (tmp_path / "q.c").read_text()
    assert "static const signed char W_x_h1_q" in source and "long acc" in source
    code, out, err = _run(["export", model, "--format", "c", "--dtype", "int16", "--calibration", regression_csv,
                           "--scheme", "symmetric-per-tensor", "--out", tmp_path / "q16.c"], capsys)
    assert code == 0, err
    assert "symmetric-per-tensor" in err and "static const short" in (tmp_path / "q16.c").read_text()
    for argv, message in [(["--format", "python", "--dtype", "int8"], "--dtype applies to --format c only"),
                          (["--format", "onnx", "--name", "n"], "apply to code (python, c, matlab), not onnx"),
                          (["--format", "c", "--calibration", regression_csv], "--calibration quantises a float"),
                          (["--format", "c", "--name", "9lives"], "name must be a letter")]:
        code, out, err = _run(["export", model, *argv], capsys)
        assert code == 2 and message in err and err.count("\n") == 1, (argv, err)


def test_show_and_export_compressed_models(regression_csv, tmp_path, capsys):
    from matnet import compress
    code, _, err = _run(["train", regression_csv, "--hidden", "6", "--epochs", "20", "--out", tmp_path / "o"], capsys)
    net = mn.load(tmp_path / "o" / "model.npz")
    compress.prune(net, 0.5, connections=[("x", "h1")]).save(tmp_path / "sparse.npz")
    compress.quantize(net, 8).save(tmp_path / "q.npz")
    code, out, err = _run(["show", tmp_path / "sparse.npz", "--matrices"], capsys)
    assert code == 0, err
    assert "W[x→h1]: 12 weights, sparse: 6 numbers stored" in out and "W[h1→y]: 6 weights\n" in out
    code, out, err = _run(["show", tmp_path / "q.npz", "--matrices"], capsys)
    assert code == 0 and "W[x→h1]: 12 weights, quantized: 18 numbers stored" in out, err
    code, out, err = _run(["export", tmp_path / "q.npz", "--format", "c"], capsys)      # int8 from the model
    assert code == 0 and "static const signed char" in (tmp_path / "q.c").read_text(), err


def test_train_builds_a_hidden_layer_as_wide_as_the_data_needs(tmp_path, capsys):
    """Without --hidden: max(10, (inputs + outputs) / 2) neurons, MATLAB's 10 for narrow data."""
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.column_stack([X[:200], np.array(["benign", "malignant"])[y[:200]]]).tolist()
    path = _write_csv(tmp_path / "cancer.csv", [f"f{i}" for i in range(30)] + ["diagnosis"], rows)
    code, _, err = _run(["train", path, "--epochs", "5", "--out", tmp_path / "c"], capsys)
    assert code == 0, err
    assert mn.load(tmp_path / "c" / "model.npz").layers["h1"].size == 16          # (30 + 2) / 2
    code, out, err = _run(["train", "--help"], capsys)
    assert "max(10, (inputs + outputs) / 2)" in " ".join(out.split())
