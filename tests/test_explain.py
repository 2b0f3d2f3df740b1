import numpy as np
import pytest

import matnet as mn


def test_text_explanation_shows_equation_shapes_and_numbers(textbook_net):
    text = textbook_net.explain(np.array([1.0]))
    assert "h1 = sigmoid(W[x→h1] · x + b[h1])   (2×1)·(1×1) + (2×1) → (2×1)" in text
    assert "y = linear(W[h1→y] · h1 + b[y])   (1×2)·(2×1) + (1×1) → (1×1)" in text
    assert "[-0.75 -0.54]ᵀ" in text          # net input of h1
    assert "[0.4463]" in text                 # the book's 0.446


def test_explain_mlp_equation_like_the_issue():
    net = mn.mlp([2, 3, 1], seed=0)
    text = net.explain(np.array([0.5, 1.2]))
    assert "h1 = tanh(W[x→h1] · x + b[h1])   (3×2)·(2×1) + (3×1) → (3×1)" in text


def test_several_sources_and_samples():
    net = mn.Network(seed=0)
    net.add_input("x", 2)
    net.add_layer("h", 3)
    net.add_layer("y", 1, "linear", bias=False)
    net.connect("x", "h")
    net.connect("h", "y")
    net.connect("x", "y")
    text = net.explain(np.ones((5, 2)), max_samples=2)
    assert "y = linear(W[h→y] · h + W[x→y] · x)   (1×3)·(3×1) + (1×2)·(2×1) → (1×1)" in text
    assert "Sample 2 of 5" in text and "Sample 3 of 5" not in text
    assert "3 more samples not shown" in text


@pytest.mark.parametrize("fmt,marker", [("markdown", "**`h1 = tanh"), ("latex", "\\begin{bmatrix}"),
                                        ("html", "<p><code><b>h1 = tanh")])
def test_other_formats(fmt, marker):
    net = mn.mlp([2, 3, 1], seed=0)
    text = net.explain([0.5, 1.2], format=fmt)
    assert marker in text


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown explain format 'rtf'"):
        mn.mlp([2, 1]).explain([1, 2], format="rtf")


def _output_numbers(text, fmt):
    """The numbers of every ``Output:`` line (in order)."""
    import re
    lines = [line for line in text.splitlines() if line.startswith("Output:")]
    return [float(v) for line in lines for v in re.findall(r"-?\d+\.\d+|-?\d+(?=[\s\]\\&])", line.split("=", 1)[1])]


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_explain_of_a_scaled_model_ends_with_what_predict_returns(fmt):
    """Input scaling, the layers in network units and the output scaling undone: the
    last number is net(X)'s to the shown precision (static and time-delay networks)."""
    rng = np.random.default_rng(0)
    X = rng.uniform([0, 100], [5, 300], size=(60, 2))
    T = np.c_[X[:, :1] * 40 + X[:, 1:], X[:, 1:] - 2 * X[:, :1]]
    net = mn.mlp([2, 4, 2], seed=0)
    net.fit(X, T, algorithm="lm", epochs=15, progress=False)
    text = net.explain(X[:2], format=fmt, precision=4)
    assert "input scaling (minmax)" in text and "output scaling undone (minmax)" in text
    np.testing.assert_allclose(_output_numbers(text, fmt), np.round(net(X[:2]).ravel(), 4), atol=1.5e-4)

    u = rng.uniform(0, 50, size=(80, 1))
    y = np.convolve(u[:, 0], [0.5, 0.3, 0.2])[:80, None] * 3 + 7
    delay = mn.timedelay([0, 1, 2], [3], seed=0)
    delay.fit(u, y, algorithm="lm", epochs=10, scaling="standard", progress=False)
    text = delay.explain(u[:6], format=fmt, max_samples=3)
    assert "input scaling (standard)" in text and "output scaling undone (standard)" in text
    expected, _ = delay.simulate(u[:6])
    np.testing.assert_allclose(_output_numbers(text, fmt), np.round(expected[:3, 0], 4), atol=1.5e-4)
