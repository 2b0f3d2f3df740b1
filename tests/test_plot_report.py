"""matnet.plot.report: one self-contained HTML file, and the HTML summary."""
import base64
import io
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matnet as mn  # noqa: E402
import matnet.plot as mp  # noqa: E402

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
                 if shutil.which(name)), None)


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(scope="module")
def regression_report(tmp_path_factory):
    """A 2-3-1 regression network trained with LM, reported with its history and data."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(120, 2))
    T = np.sin(X[:, :1]) * X[:, 1:]
    net = mn.mlp([2, 3, 1], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = net.fit(X, T, algorithm="lm", epochs=20, seed=0, progress=False)
        path = mp.report(net, history, (X, T), path=tmp_path_factory.mktemp("report") / "report.html")
    return net, path, path.read_text(encoding="utf-8")


def images(html):
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)


def assert_self_contained(html):
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower() and "@import" not in html and "url(" not in html
    assert not re.search(r'src="(?!data:image/png;base64,)', html)


def test_report_is_one_self_contained_file(regression_report):
    net, path, html = regression_report
    assert path.exists() and path.stat().st_size > 10_000
    assert html.startswith("<!DOCTYPE html>")
    assert_self_contained(html)


def test_report_embeds_decodable_png_images(regression_report):
    from PIL import Image
    pictures = images(regression_report[2])
    assert len(pictures) == 10   # network, adjacency, performance, training state, regression, errors,
    #                              and the analysis: spectra, importance, profile, generalized weights
    for data in pictures:
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            assert image.format == "PNG" and min(image.size) > 100


def test_report_sections(regression_report):
    net, _, html = regression_report
    for heading in ("Architecture", "Network", "Weights and biases", "Training", "Evaluation", "Analysis",
                    "How the first sample is computed"):
        assert f"<h2>{heading}</h2>" in html
    # structure + small matrices, then the analysis: importance, intervals, spectra
    assert html.count("<table") == 2 + len(net.weights) + len(net.biases) + 3
    assert "W[x→h1]  (3×2)" in html and "h1[2]" in html
    assert "outputs against targets" in html and "errors" in html
    explained = html[html.index("<h2>How the first sample is computed</h2>"):]
    assert "h1 = tanh(W[x→h1] · x̃ + b[h1])" in explained and "x̃ = gain ⊙ (x − xmin) + ymin" in explained
    assert not any(raw in explained for raw in ("##", "**", "```")), "Markdown shown raw"


def test_report_analysis_reads_the_trained_network(regression_report):
    net, _, html = regression_report
    analysis = html[html.index("<h2>Analysis</h2>"):html.index("<h2>How the first sample is computed</h2>")]
    for column in ("garson", "olden", "sensitivity", "permutation"):
        assert f"<th>{column}</th>" in analysis
    assert "95% confidence intervals (gauss-newton" in analysis and f"of {net.n_params} parameters" in analysis
    assert "NIC" in analysis and "<th>stable_rank</th>" in analysis and "W[x→h1]" in analysis
    for alt in ("spectra of the weight matrices", "importance of the inputs (sensitivity)",
                "Lek&#x27;s profile of x[", "generalized weights of x["):
        assert f'alt="{alt}' in analysis, alt


def test_report_explanation_is_compact_html_with_expandable_vectors(tmp_path):
    net = mn.mlp([30, 12, 1], seed=0)
    X = np.random.default_rng(0).normal(size=(5, 30))
    html = mp.report(net, data=(X, X[:, :1]), path=tmp_path / "r.html").read_text(encoding="utf-8")
    explained = html[html.index("<h2>How the first sample is computed</h2>"):]
    assert not any(raw in explained for raw in ("##", "**", "```"))
    assert "<details><summary>all 30 values</summary>" in explained        # x, abbreviated with a toggle
    assert "<details><summary>show the matrix</summary>" in explained      # W[x→h1], 12×30
    assert " … " in explained


def test_report_of_a_classifier_shows_confusion_and_heatmaps(tmp_path):
    net = mn.mlp([64, 32, 10], output_activation="softmax", seed=0)
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(100, 64)), rng.integers(0, 10, 100)
    html = mp.report(net, data=(X, labels), path=tmp_path / "clf.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    for alt in ("confusion matrix", "ROC curves", "heatmap of W[x→h1]", "heatmap of W[h1→y]", "heatmap of b[h1]"):
        assert f'alt="{alt}"' in html
    assert "b[y]  (10)" in html   # a short bias vector stays a table


def test_report_of_a_network_with_delays(tmp_path):
    net = mn.mlp([2, 3, 1], seed=0)
    net.connect("y", "h1", delays=[1, 2])
    path = mp.report(net, path=tmp_path / "delayed.html")
    html = path.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "y[0](t-2)" in html
    assert re.search(r"<td[^>]*>W\[y→h1\]</td><td[^>]*>3×2</td><td[^>]*>1, 2</td>", html)   # delays column
    assert len(images(html)) == 2


def test_report_of_a_narx_network_simulates_the_series(tmp_path):
    net = mn.narx([1, 2], [1, 2], [3], seed=0).closed_loop()
    u = np.sin(np.linspace(0, 6, 60))[:, None]
    html = mp.report(net, data=(u, 0.5 * u), path=tmp_path / "narx.html").read_text(encoding="utf-8")
    assert 'alt="simulated response against the targets"' in html
    assert "60 time steps" in html


def test_report_leaves_no_temporary_files(tmp_path):
    mp.report(mn.mlp([1, 2, 1], seed=0), path=tmp_path / "r.html")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_html_summary_is_a_fragment_with_tables():
    net = mn.mlp([64, 32, 10], seed=0)
    html = mp.html_summary(net)
    assert html.startswith("<div") and html.endswith("</div>")
    assert_self_contained(html)
    assert "64-32-10 network: 2410 parameters, float64" in html
    assert "W[x→h1] (32×64): too large to list" in html
    assert "b[y]  (10)" in html


def test_html_summary_escapes_and_colours_small_matrices():
    net = mn.Network.from_matrices([np.array([[2.0, -2.0]])], [np.array([0.5])])
    html = mp.html_summary(net)
    assert "background:#b2182b;color:white\">2</td>" in html     # +max: full red
    assert "background:#2166ac;color:white\">-2</td>" in html    # -max: full blue


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (install Debian's chromium to run this)")
def test_report_renders_in_headless_chromium(regression_report, tmp_path):
    from PIL import Image
    _, path, _ = regression_report
    shot = tmp_path / "shot.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
               path.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert shot.exists(), result.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1200, 2000)
        grey = image.convert("L")
        low, high = grey.getextrema()
        assert high - low > 100                                   # not one colour
        dark = sum(grey.histogram()[:128]) / (1200 * 2000)
        assert dark > 0.002                                       # text and pictures drawn
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 50


def test_report_draws_each_split_of_the_training_data_and_names_its_source(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(100, 2))
    T = np.sin(X[:, :1]) * X[:, 1:]
    net = mn.mlp([2, 3, 1], seed=0)
    history = net.fit(X, T, algorithm="lm", epochs=5, seed=0, progress=False)
    assert sorted(len(history.division[k]) for k in ("train", "val", "test")) == [15, 15, 70]
    html = mp.report(net, history, (X, T), path=tmp_path / "r.html",
                     details={"data": "data.csv", "command": "matnet train data.csv", "date": "2026-11-30"}
                     ).read_text(encoding="utf-8")
    assert 'alt="outputs against targets per split"' in html
    assert "<th>data</th><td><code>data.csv</code>" in html and "matnet train data.csv" in html
    other = mp.report(net, history, (X[:40], T[:40]), path=tmp_path / "o.html").read_text(encoding="utf-8")
    assert 'alt="outputs against targets"' in other                   # other data: one picture of all

    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    clf = mn.mlp([2, 4, 3], output_activation="softmax", seed=0)
    h = clf.fit(X, labels, algorithm="scg", epochs=5, seed=0, progress=False)
    html = mp.report(clf, h, (X, labels), path=tmp_path / "c.html").read_text(encoding="utf-8")
    assert 'alt="confusion matrices per split"' in html
