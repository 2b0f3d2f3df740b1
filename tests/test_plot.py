"""matnet.plot: every picture renders without warnings, and draws what it should.

Checks compare structure (artists, limits, labels, frames), never pixels.
"""
import io
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matnet as mn  # noqa: E402
import matnet.plot as mp  # noqa: E402
from matnet.plot import _mpl  # noqa: E402
from matnet.plot._style import format_value  # noqa: E402
from matnet.plot.animation import frame_epochs  # noqa: E402
from matnet.plot.evaluation import roc_curve  # noqa: E402


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def png(fig):
    """Render to PNG bytes (and check it is one)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


# -- networks ----------------------------------------------------------------------

def small():
    """2-3-1 trained with Levenberg-Marquardt, weights recorded."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(120, 2))
    T = np.sin(X[:, :1]) * X[:, 1:]
    net = mn.mlp([2, 3, 1], seed=0)
    history = net.fit(X, T, algorithm="lm", epochs=20, seed=0, record_weights=True, progress=False)
    return net, history, X, T


def big():
    return mn.mlp([64, 32, 10], output_activation="softmax", seed=0)


def dag():
    net = mn.Network(seed=0)
    net.add_input("u", 3)
    net.add_layer("h", 4, activation="relu")
    net.add_layer("g", 2, activation="tanh")
    net.add_layer("y", 2, activation="linear")
    net.connect("u", "h"); net.connect("h", "g"); net.connect("g", "y")
    net.connect("u", "y"); net.connect("h", "y")          # skip connections
    return net


def delayed():
    net = mn.mlp([2, 3, 1], seed=0)
    net.connect("y", "h1", delays=[1, 2])                   # feedback with two taps
    net.connect("h1", "h1", delays=[1])                     # a layer on itself
    return net


@pytest.fixture(scope="module")
def trained():
    with warnings.catch_warnings():
        return small()


NETS = {"2-3-1": lambda: small()[0], "64-32-10": big, "dag": dag, "delayed": delayed}


# -- import and packaging ------------------------------------------------------------

def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_importing_matnet_and_matnet_plot_does_not_import_matplotlib():
    result = run_python("import sys, matnet, matnet.plot; import matnet.plot.report; "
                        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; "
                        "assert callable(matnet.plot.report)")
    assert result.returncode == 0, result.stderr


def test_without_matplotlib_pictures_say_how_to_install_and_html_summary_works():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import matnet as mn, matnet.plot as mp\n"
            "assert '<table' in mp.html_summary(mn.mlp([2, 3, 1], seed=0))\n"
            "try:\n    mp.matrix\nexcept ImportError as e:\n    print(e)\nelse:\n    raise SystemExit('no error')\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "pip install matnet[plot]" in result.stdout


def test_public_api():
    for name in mp.__all__:
        assert callable(getattr(mp, name)), name
    assert "network" in dir(mp)


def test_figures_use_agg_without_pyplot():
    fig = mp.matrix(np.eye(2))
    assert type(fig.canvas).__name__ == "FigureCanvasAgg"
    assert "matplotlib.pyplot" not in sys.modules


# -- the network picture -----------------------------------------------------------

def drawn(fig):
    """``(nodes, static edges, delayed edges, texts)`` drawn by network()."""
    ax = fig.axes[0]
    nodes = sum(len(c.get_offsets()) for c in ax.collections if (c.get_gid() or "").startswith("nodes:"))
    static = sum(len(c.get_paths()) for c in ax.collections if c.get_gid() == "edges")
    arrows = [p for p in ax.patches if p.get_gid() == "delay-edge"]
    return nodes, static, arrows, [t.get_text() for t in ax.texts]


def n_nodes(net):
    """Inputs, neurons and one bias node per layer with a bias."""
    return (sum(net.inputs.values()) + sum(l.size for l in net.layers.values())
            + sum(l.bias for l in net.layers.values()))


@pytest.mark.parametrize("name", list(NETS))
def test_network_draws_every_neuron_and_one_edge_per_parameter(name):
    net = NETS[name]()
    fig = mp.network(net)
    png(fig)
    nodes, static, arrows, _ = drawn(fig)
    assert nodes == n_nodes(net)
    assert static + len(arrows) == net.n_params


def test_network_small_prints_every_weight(trained):
    net = trained[0]
    _, _, _, texts = drawn(mp.network(net))
    values = [format_value(w) for W in net.weights.values() for w in np.ravel(W)]
    values += [format_value(b) for v in net.biases.values() for b in v]
    assert len(values) == 13
    for v in values:
        assert v in texts
        texts.remove(v)
    assert {"x[0]", "x[1]", "y[0]"} <= set(texts)


def test_network_large_prints_no_weights_and_uses_faint_lines():
    net = big()
    fig = mp.network(net)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) <= 6          # headings and bias names only
    edges = next(c for c in ax.collections if c.get_gid() == "edges")
    assert edges.get_edgecolors()[:, 3].max() <= 0.6
    assert max(edges.get_linewidths()) <= 1.5


def test_network_delayed_connections_are_dashed_arrows_labelled_with_delays():
    net = delayed()
    fig = mp.network(net)
    _, static, arrows, texts = drawn(fig)
    assert len(arrows) == 3 * 2 + 3 * 3          # y→h1 two taps, h1→h1 one tap
    assert static == net.n_params - len(arrows)
    for arrow in arrows:
        assert arrow.get_linestyle() not in ("-", "solid")
    assert any("y→h1" in t and "1, 2" in t for t in texts)
    assert any("h1→h1" in t and "delay 1" in t for t in texts)


def test_network_edge_width_grows_with_the_weight():
    net = mn.Network.from_matrices([np.array([[0.1], [-2.0]]), np.array([[1.0, 0.5]])], [None, None])
    fig = mp.network(net)
    edges = next(c for c in fig.axes[0].collections if c.get_gid() == "edges")
    widths, colours = list(edges.get_linewidths()), edges.get_edgecolors()
    assert widths[1] > widths[0]                   # |-2.0| > |0.1|
    assert colours[1][2] > colours[1][0]           # negative: blue
    assert colours[0][0] > colours[0][2]           # positive: red


def test_network_draws_into_a_given_axes():
    fig = _mpl.new_figure((8, 4))
    ax = fig.add_subplot(1, 2, 2)
    assert mp.network(dag(), ax=ax) is fig
    assert any(c.get_gid() == "edges" for c in ax.collections)


def test_network_max_edges_keeps_the_strongest():
    fig = mp.network(big(), max_edges=500)
    _, static, _, _ = drawn(fig)
    assert static == 500
    assert "500 of 2410" in fig.axes[0].get_title()


# -- matrices ----------------------------------------------------------------------

def colour_limits(fig):
    image = fig.axes[0].images[0]
    return image.get_clim(), image.colorbar


@pytest.mark.parametrize("name", list(NETS))
def test_matrix_of_every_connection_is_centred_at_zero(name):
    net = NETS[name]()
    for key, W in net.weights.items():
        fig = mp.matrix(net=net, key=key)
        png(fig)
        (lo, hi), colorbar = colour_limits(fig)
        assert lo == -hi == pytest.approx(-np.abs(W).max())
        assert colorbar is not None and colorbar.vmin == -colorbar.vmax


def test_matrix_small_prints_values_and_names_neurons(trained):
    net = trained[0]
    W = net.weights["x", "h1"]
    ax = mp.matrix(net=net, key=("x", "h1")).axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(format_value(w) for w in W.ravel())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["h1[0]", "h1[1]", "h1[2]"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x[0]", "x[1]"]
    assert ax.get_title() == "W[x→h1]  (3×2)"


def test_matrix_large_prints_no_values():
    W = np.random.default_rng(0).normal(size=(32, 64))
    fig = mp.matrix(W)
    png(fig)
    assert len(fig.axes[0].texts) == 0


def test_matrix_of_delays_names_the_taps():
    net = delayed()
    ax = mp.matrix(net=net, key=("y", "h1")).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["y[0](t-1)", "y[0](t-2)"]
    assert {"delay 1", "delay 2"} <= {t.get_text() for t in ax.texts}


def test_matrix_checks_the_shape_against_the_network(trained):
    with pytest.raises(ValueError, match="shape"):
        mp.matrix(np.zeros((2, 2)), net=trained[0], key=("x", "h1"))
    with pytest.raises(ValueError, match="net= and key="):
        mp.matrix()


def test_matrix_draws_into_a_given_axes():
    fig = _mpl.new_figure()
    ax = fig.add_subplot()
    assert mp.matrix(np.array([[1.0, -3.0]]), ax=ax, colorbar=False) is fig
    assert ax.images[0].get_clim() == (-3.0, 3.0)


@pytest.mark.parametrize("shape", [(3, 2), (32, 64)])
def test_hinton_one_square_per_nonzero_weight(shape):
    W = np.random.default_rng(1).normal(size=shape)
    W[0, 0] = 0.0
    fig = mp.hinton(W)
    png(fig)
    squares = next(c for c in fig.axes[0].collections if c.get_gid() == "hinton")
    assert len(squares.get_paths()) == W.size - 1
    sides = [np.ptp(p.vertices[:, 0]) for p in squares.get_paths()]
    assert max(sides) == pytest.approx(0.95)


# -- adjacency ---------------------------------------------------------------------

@pytest.mark.parametrize("name", list(NETS))
def test_adjacency_shows_stored_entries_and_outlines_blocks(name):
    net = NETS[name]()
    fig = mp.adjacency(net)
    png(fig)
    ax = fig.axes[0]
    A, nodes = net.adjacency()
    matrices = A.values() if isinstance(A, dict) else [A]
    stored = {(i, j) for M in matrices for i, j in zip(*M.tocoo().coords)}   # explicit zeros too
    data = ax.images[0].get_array()
    assert data.shape == (len(nodes), len(nodes))
    assert data.count() == len(stored)
    blocks = [p for p in ax.patches if p.get_gid() == "block"]
    assert len(blocks) == len(net.connections) + len(net.biases)
    lo, hi = ax.images[0].get_clim()
    assert lo == -hi


def test_adjacency_small_names_every_node(trained):
    net = trained[0]
    ax = mp.adjacency(net).axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == [str(n) for n in net.adjacency()[1]]
    assert len(ax.texts) == 13                     # every weight and bias printed


def test_adjacency_with_delays_marks_delayed_blocks_and_can_pick_one_delay():
    net = delayed()
    net.biases["h1"][1] = 0.0                      # an edge of weight 0 is still an edge
    ax = mp.adjacency(net).axes[0]
    assert not ax.images[0].get_array().mask[3, 6]
    assert "28 edges" in ax.get_title()
    dashed = [p for p in ax.patches if p.get_gid() == "block" and p.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == 2
    assert "sum" in ax.get_title()
    one = mp.adjacency(net, delay=2).axes[0]
    assert one.images[0].get_array().count() == 3   # only y→h1 has delay 2
    with pytest.raises(ValueError, match="delay 5"):
        mp.adjacency(net, delay=5)


# -- receptive fields --------------------------------------------------------------

def test_receptive_fields_one_image_per_row():
    W = big().weights["x", "h1"]
    fig = mp.receptive_fields(W, (8, 8))
    png(fig)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 32
    assert images[0].images[0].get_array().shape == (8, 8)


def test_receptive_fields_mosaic_in_one_axes_and_bad_shape():
    W = np.random.default_rng(0).normal(size=(5, 12))
    fig = _mpl.new_figure()
    ax = fig.add_subplot()
    assert mp.receptive_fields(W, (3, 4), ax=ax) is fig
    assert ax.images[0].get_array().shape == (2 * 4 - 1, 3 * 5 - 1)
    with pytest.raises(ValueError, match="height \\* width = 12"):
        mp.receptive_fields(W, (5, 5))


# -- training ----------------------------------------------------------------------

def test_performance_marks_the_best_epoch_on_a_log_scale(trained):
    history = trained[1]
    fig = mp.performance(history)
    png(fig)
    ax = fig.axes[0]
    gids = {line.get_gid() for line in ax.lines}
    assert {"loss:train", "loss:val", "loss:test", "best"} <= gids
    assert ax.get_yscale() == "log"
    best = next(line for line in ax.lines if line.get_gid() == "best")
    assert best.get_xdata()[0] == history.best_epoch
    assert f"epoch {history.best_epoch}" in ax.get_title()


def test_performance_from_a_dict_and_linear_when_not_positive():
    fig = mp.performance({"train_loss": [1.0, 0.0, -1.0], "best_epoch": 2})
    png(fig)
    assert fig.axes[0].get_yscale() == "linear"


def test_training_state_panels(trained):
    history = trained[1]
    fig = mp.training_state(history)
    png(fig)
    gids = [line.get_gid() for ax in fig.axes for line in ax.lines if line.get_gid()]
    assert gids == ["grad_norm", "mu", "val_fail"]


def test_training_state_divides_a_given_subplot(trained):
    fig = _mpl.new_figure((8, 6))
    left, right = fig.subplots(1, 2)
    assert mp.training_state(trained[1], ax=right) is fig
    assert len(fig.axes) == 1 + 3
    png(fig)


# -- evaluation --------------------------------------------------------------------

def test_regression_fit_line_and_r(trained):
    net, _, X, T = trained
    fig = mp.regression(net, X, T)
    png(fig)
    r = np.corrcoef(T.ravel(), net(X).ravel())[0, 1]
    assert fig.axes[0].get_title().startswith(f"R = {r:.4f}")
    assert any(line.get_gid() == "fit" for line in fig.axes[0].lines)


def test_error_histogram_from_net_or_errors(trained):
    net, _, X, T = trained
    for fig in (mp.error_histogram(net, X, T), mp.error_histogram((T - net(X)).ravel())):
        png(fig)
        bars = fig.axes[0].patches
        assert sum(b.get_height() for b in bars) == len(X)


def classifier():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 3], [3, 0], [-3, -3]])
    labels = np.repeat(["a", "b", "c"], 40)
    X = centres[np.repeat(np.arange(3), 40)] + rng.normal(size=(120, 2))
    net = mn.mlp([2, 5, 3], output_activation="softmax", seed=0)
    net.fit(X, labels, algorithm="adam", lr=0.05, epochs=40, seed=0, progress=False)
    return net, X, labels


def test_confusion_counts_and_accuracy():
    net, X, labels = classifier()
    fig = mp.confusion(net, X, labels)
    png(fig)
    ax = fig.axes[0]
    counts = ax.images[0].get_array()
    predicted = net.predict_classes(X)
    assert counts.sum() == len(X)
    assert np.trace(counts) == np.sum(predicted == labels)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert f"{100 * np.mean(predicted == labels):.1f}%" in ax.get_title()


def test_confusion_and_roc_on_a_64_32_10_network():
    net = big()
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(200, 64)), rng.integers(0, 10, 200)
    for fig in (mp.confusion(net, X, labels), mp.roc(net, X, labels)):
        png(fig)
    assert len([line for line in fig.axes[0].lines if (line.get_gid() or "").startswith("roc:")]) == 10


def test_roc_one_curve_per_class():
    net, X, labels = classifier()
    fig = mp.roc(net, X, labels)
    png(fig)
    assert [line.get_gid() for line in fig.axes[0].lines][:3] == ["roc:a", "roc:b", "roc:c"]


def test_roc_curve_values():
    fpr, tpr, auc = roc_curve([0.9, 0.8, 0.3, 0.1], [True, True, False, False])
    assert auc == 1.0 and fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert roc_curve([0.1, 0.2, 0.8, 0.9], [True, True, False, False])[2] == 0.0
    assert roc_curve([0.5, 0.5, 0.5, 0.5], [True, False, True, False])[2] == 0.5   # ties: the diagonal


def test_response_prediction_and_errors():
    t = np.linspace(0, 1, 50)
    truth = np.column_stack([np.sin(6 * t), np.cos(6 * t)])
    fig = mp.response(truth, truth + 0.1, t=t)
    png(fig)
    top, bottom = fig.axes
    assert len(top.lines) == 4
    np.testing.assert_allclose(bottom.lines[0].get_ydata(), -0.1)
    fig = _mpl.new_figure()
    axes = fig.subplots(2, 1)
    assert mp.response(truth[:, 0], truth[:, 0], ax=axes) is fig


# -- animation ---------------------------------------------------------------------

def test_weights_animation_one_frame_per_epoch(trained, tmp_path):
    from PIL import Image
    history = trained[1]
    path = tmp_path / "weights.gif"
    mp.weights_animation(history, path, dpi=40)
    with Image.open(path) as gif:
        assert gif.n_frames == len(history.weights) == history.n_epochs


def test_weights_animation_subsamples_long_runs(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    snapshots = [{("x", "h1"): rng.normal(size=(3, 2))} for _ in range(25)]
    mp.weights_animation(snapshots, tmp_path / "w.gif", max_frames=10, dpi=30)
    with Image.open(tmp_path / "w.gif") as gif:
        assert gif.n_frames == 10
    epochs = frame_epochs(1000)
    assert len(epochs) == 60 and epochs[0] == 0 and epochs[-1] == 999
    with pytest.raises(ValueError, match="record_weights=True"):
        mp.weights_animation(mn.History(), tmp_path / "none.gif")
