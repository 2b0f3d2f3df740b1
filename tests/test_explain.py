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


@pytest.mark.parametrize("fmt,marker", [("markdown", "**`h1 = tanh"), ("latex", "\\begin{bmatrix}")])
def test_other_formats(fmt, marker):
    net = mn.mlp([2, 3, 1], seed=0)
    text = net.explain([0.5, 1.2], format=fmt)
    assert marker in text


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown explain format 'html'"):
        mn.mlp([2, 1]).explain([1, 2], format="html")
