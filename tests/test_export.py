"""Networks written out as code (:mod:`matnet.export`): the Python file, the C program and
the MATLAB/Octave function compute what matnet computes, for every kind of network in
every weight form (quantised included), with scaling, several inputs and outputs, and
initial delay states.  The C code is compiled with ``gcc -std=c99 -Wall -Wextra -Werror
-pedantic`` and run; the MATLAB file is run by ``octave-cli``."""
import importlib.util
import shutil
import subprocess

import numpy as np
import pytest

import matnet as mn
from matnet import compress, export
from test_core import FORMS, KINDS, _case

GCC = shutil.which("gcc")
OCTAVE = shutil.which("octave-cli")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")
needs_octave = pytest.mark.skipif(OCTAVE is None,
                                  reason="octave-cli is not installed (.ci/run installs Debian's octave)")
C_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]


def quantized_case(kind, bits=8):
    """``_case`` with every weight quantised, calibrated on the case's own data."""
    net, _, X, T, U, initial = _case(kind, "dense")
    q = compress.quantize(net, bits, calibration=X if U is None else U, initial=initial)
    return q, None, X, T, U, initial


def case(kind, form):
    return quantized_case(kind) if form == "quantized" else _case(kind, form)


ALL_FORMS = [*FORMS, "quantized"]
CASES = [(k, f) for k in KINDS for f in ALL_FORMS]


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def first_series(U, initial):
    """The first series of ``U`` and of the initial states."""
    U1 = {k: v[0] for k, v in U.items()} if isinstance(U, dict) else U[0]
    return U1, {k: v[0] for k, v in initial.items()}


# -- Python ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,form", CASES)
def test_python_file_reproduces_the_network(kind, form, tmp_path):
    net, _, X, T, U, initial = case(kind, form)
    result = export.to_python(net, tmp_path / "model.py")
    source = result.files[0].read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import numpy as np"]
    m = load_module(result.files[0])
    if U is None:
        np.testing.assert_allclose(m.predict(X), net(X), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(m.predict(X[0]), net(X[0]), rtol=1e-13, atol=1e-14)
        return
    Y, final = net.simulate(U, initial=initial)
    Ym, final_m = m.simulate(U, initial)
    np.testing.assert_allclose(Ym, Y, rtol=1e-12, atol=1e-13)
    assert final_m.keys() == final.keys()
    for name in final:
        np.testing.assert_allclose(final_m[name], final[name], rtol=1e-12, atol=1e-13)
    U1, initial1 = first_series(U, initial)       # one series, and the explicit step
    Y1 = net.simulate(U1, initial=initial1)[0]
    np.testing.assert_allclose(m.simulate(U1, initial1)[0], Y1, rtol=1e-12, atol=1e-13)
    state = m.initial_state(initial1)
    steps = []
    for t in range(Y1.shape[0]):
        x = {k: v[t] for k, v in U1.items()} if isinstance(U1, dict) else U1[t]
        y, state = m.step(state, x)
        steps.append(y)
    np.testing.assert_allclose(np.array(steps), Y1, rtol=1e-12, atol=1e-13)


def trained_classifier():
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    net = mn.mlp([4, 6, 3], output_activation="softmax", seed=0)
    net.fit(X, np.array(["setosa", "versicolor", "virginica"])[y], epochs=30, progress=False)
    return net, X


def test_python_file_of_a_trained_classifier_gives_its_classes(tmp_path):
    net, X = trained_classifier()
    m = load_module(export.to_python(net, tmp_path / "iris.py").files[0])
    np.testing.assert_allclose(m.predict(X), net(X), rtol=1e-13, atol=1e-15)
    assert list(m.predict_classes(X)) == list(net.predict_classes(X))
    assert m.CLASSES == ["setosa", "versicolor", "virginica"]


def two_by_two():
    """Two inputs, two output layers, a skip connection, every activation writers know."""
    net = mn.Network(seed=3)
    net.add_input("a", 2)
    net.add_input("b input", 3)
    for name, act in [("h", "sigmoid"), ("g", "elu"), ("k", "softplus"), ("y", "softmax"), ("w", "leaky_relu"),
                      ("s", "satlins"), ("v", "hardlim")]:
        net.add_layer(name, 3 if name != "y" else 4, activation=act)
    for source, target in [("a", "h"), ("b input", "h"), ("h", "g"), ("g", "k"), ("k", "y"), ("a", "y"),
                           ("h", "w"), ("w", "s"), ("s", "v")]:
        net.connect(source, target)
    net.outputs = ["y", "v"]
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(50, 2)) * 2, "b input": rng.normal(size=(50, 3)) * 2}
    net.input_scaling["a"] = mn.data.scaling.standard(X["a"])
    return net, X


def test_python_file_with_several_inputs_and_outputs(tmp_path):
    net, X = two_by_two()
    m = load_module(export.to_python(net, tmp_path / "two.py").files[0])
    Y, Ym = net(X), m.predict(X)
    assert set(Ym) == {"y", "v"}
    for name in Y:
        np.testing.assert_allclose(Ym[name], Y[name], rtol=1e-13, atol=1e-15)


def test_python_file_of_a_float32_network(tmp_path):
    net = mn.mlp([3, 5, 2], seed=0, dtype="float32")
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    m = load_module(export.to_python(net, tmp_path / "f32.py").files[0])
    Ym = m.predict(X)
    assert Ym.dtype == np.float32
    np.testing.assert_array_equal(Ym, net(X))


# -- C ---------------------------------------------------------------------------------

C_MAIN = r'''
#include <stdio.h>
#include "%(name)s.h"
int main(void) {
    %(T)s x[%(NAME)s_N_INPUTS + 1], y[%(NAME)s_N_OUTPUTS];    /* + 1: a network may have no inputs */
    double v;
    %(init)s
    for (;;) {
        if (scanf("%%la", &v) != 1) return 0;                  /* each row starts with a marker */
        for (int j = 0; j < %(NAME)s_N_INPUTS; j++) { if (scanf("%%la", &v) != 1) return 1; x[j] = (%(T)s)v; }
        %(call)s
        for (int k = 0; k < %(NAME)s_N_OUTPUTS; k++) printf("%%a ", (double)y[k]);
        printf("\n");
    }
}
'''


def run_c(net, rows, folder, dtype="double", initial=None, name="net"):
    """Export ``net`` as C, compile it with a small main and run it on ``rows``
    (samples, or the time steps of one series); returns its outputs, exact."""
    export.to_c(net, folder / f"{name}.c", dtype=dtype, name=name)
    T = "float" if dtype == "float" or (dtype.startswith("int") and net.dtype == np.float32) else "double"
    init = ""
    if net.is_dynamic:
        values = "0" if initial is None else "{" + ", ".join(float(v).hex() for v in initial) + "}"
        init = (f"{name}_state s; " + (f"static const {T} initial[] = {values}; {name}_init(&s, initial);"
                                       if initial is not None else f"{name}_init(&s, 0);"))
    call = f"{name}_step(&s, x, y);" if net.is_dynamic else f"{name}_predict(x, y);"
    (folder / "main.c").write_text(C_MAIN % dict(name=name, NAME=name.upper(), T=T, init=init, call=call))
    subprocess.run([GCC, *C_FLAGS, "-o", str(folder / "prog"), str(folder / "main.c"), str(folder / f"{name}.c"),
                    "-lm"], check=True, capture_output=True, text=True)
    text = "\n".join(" ".join(["0x0p+0", *(float(v).hex() for v in row)]) for row in rows)
    out = subprocess.run([str(folder / "prog")], input=text, capture_output=True, text=True, check=True).stdout
    return np.array([[float.fromhex(v) for v in line.split()] for line in out.strip().splitlines()])


def flat_states(net, initial):
    """``initial`` as the C state layout: sources in the export's order, oldest first."""
    prog = export.program(net)
    return np.concatenate([np.ravel(initial.get(s.name, np.zeros((s.depth, s.size)))) for s in prog.states])


def series_rows(net, U1):
    return np.concatenate([U1[k] for k in net.inputs], axis=1) if isinstance(U1, dict) else U1


@needs_gcc
@pytest.mark.parametrize("kind,form", CASES)
def test_c_program_reproduces_the_network(kind, form, tmp_path):
    net, _, X, T, U, initial = case(kind, form)
    dtype = "int8" if form == "quantized" else "double"
    if U is None:
        X = np.random.default_rng(5).normal(size=(1000, X.shape[1]))
        Y = net(X)
        got = run_c(net, X, tmp_path, dtype)
    else:
        U1, initial1 = first_series(U, initial)
        Y = net.simulate(U1, initial=initial1)[0]
        got = run_c(net, series_rows(net, U1), tmp_path, dtype, flat_states(net, initial1))
    np.testing.assert_allclose(got, Y, rtol=1e-12, atol=1e-12 * np.abs(Y).max())


@needs_gcc
def test_c_program_in_float_and_of_a_long_series(tmp_path):
    net = mn.mlp([4, 16, 8, 3], seed=1)
    X = np.random.default_rng(0).normal(size=(1000, 4))
    Y = net(X)
    np.testing.assert_allclose(run_c(net, X, tmp_path, "float"), Y, rtol=1e-5, atol=1e-5 * np.abs(Y).max())
    closed, _, X, T, U, initial = _case("narx_closed", "dense")
    U1 = np.random.default_rng(1).normal(size=(1000, 2))
    Y = closed.simulate(U1)[0]
    np.testing.assert_allclose(run_c(closed, U1, tmp_path, "double"), Y, rtol=1e-12, atol=1e-12 * np.abs(Y).max())


@needs_gcc
def test_c_program_with_several_inputs_outputs_and_every_activation(tmp_path):
    net, X = two_by_two()
    rows = np.concatenate([X["a"], X["b input"]], axis=1)
    Y = net(X)
    got = run_c(net, rows, tmp_path)
    np.testing.assert_allclose(got, np.concatenate([Y["y"], Y["v"]], axis=1), rtol=1e-12, atol=1e-13)


def piecewise_linear(seed=0):
    """A network whose activations are exact in any language (relu, linear, satlin)."""
    net = mn.Network(seed=seed)
    net.add_input("x", 6)
    net.add_layer("h1", 12, activation="relu")
    net.add_layer("h2", 7, activation="satlins")
    net.add_layer("y", 3, activation="linear")
    for s, t in [("x", "h1"), ("h1", "h2"), ("h2", "y"), ("x", "y")]:
        net.connect(s, t)
    X = np.random.default_rng(seed).normal(size=(1000, 6))
    net.input_scaling["x"] = mn.data.scaling.minmax(X[:500])
    net.output_scaling["y"] = mn.data.scaling.standard(np.random.default_rng(1).normal(size=(100, 3)) * 5 + 2)
    return net, X


@needs_gcc
@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("scheme", ["symmetric-per-row", "symmetric-per-tensor"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_quantised_c_matches_the_quantized_form_bit_for_bit(bits, scheme, dtype, tmp_path):
    net, X = piecewise_linear()
    net, X = net.astype(dtype), X.astype(dtype)
    q = compress.quantize(net, bits, scheme, calibration=X[:500])
    source = export.to_c(q, tmp_path / "net.c", dtype=f"int{bits}").files[1].read_text()
    integer = "signed char" if bits == 8 else "short"
    assert f"static const {integer} W_x_h1_q" in source and "long acc" in source
    got = run_c(q, X, tmp_path, f"int{bits}")
    np.testing.assert_array_equal(got, q(X))           # every bit: integer products, same float steps
    assert np.abs(got - net(X)).max() > 0               # and it is not the float network


@needs_gcc
def test_quantised_tanh_network_in_c(tmp_path):
    """With tanh the C library and NumPy's own SIMD tanh differ in the last bit for many
    arguments (28 % of normal samples on this machine), so only the matrix products are
    exact; the outputs agree to round-off."""
    net, _, X, T, U, initial = quantized_case("static", 8)
    X = np.random.default_rng(2).normal(size=(1000, 4))
    got = run_c(net, X, tmp_path, "int8")
    np.testing.assert_allclose(got, net(X), rtol=1e-12, atol=1e-12)


@needs_gcc
def test_c_export_refuses_what_it_cannot_write(tmp_path):
    net, X = piecewise_linear()
    with pytest.raises(ValueError, match="quantise every weight to 8 bits"):
        export.to_c(net, tmp_path / "a.c", dtype="int8")
    q = compress.quantize(net, 16, calibration=X)
    with pytest.raises(ValueError, match="dtype='int16'"):
        export.to_c(q, tmp_path / "a.c", dtype="double")
    with pytest.raises(ValueError, match="dtype must be one of"):
        export.to_c(net, tmp_path / "a.c", dtype="int4")
    with pytest.raises(ValueError, match="name must be"):
        export.to_c(net, tmp_path / "a.c", name="2fast")
    with pytest.raises(ValueError, match=r"a\.py: the file must end with \.c"):
        export.to_c(net, tmp_path / "a.py")
    assert export.to_python(net, tmp_path / "b").files == [tmp_path / "b.py"]
    (tmp_path / "b.py").unlink()
    assert not list(tmp_path.iterdir())


def test_export_refuses_custom_activations(tmp_path):
    net = mn.mlp([2, 3, 1], activation=(np.sin, np.cos))
    with pytest.raises(ValueError, match="layer 'h1' uses the activation 'sin'"):
        export.to_python(net, tmp_path / "a.py")
    assert not list(tmp_path.iterdir())


def test_a_network_without_inputs_runs_free_from_its_states(tmp_path):
    """A closed-loop NAR network: no inputs, only its fed-back output's delay states."""
    net = mn.nar([1, 2], [4], seed=0, loop="closed")
    net.output_scaling["y"] = mn.data.scaling.minmax(np.array([[-2.0], [3.0]]))
    initial = {"y": np.array([[0.3], [-0.2]])}
    Y, final = net.simulate(None, initial=initial, n_steps=50)
    m = load_module(export.to_python(net, tmp_path / "nar.py").files[0])
    Ym, final_m = m.simulate(None, initial, n_steps=50)
    np.testing.assert_allclose(Ym, Y, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(final_m["y"], final["y"], rtol=1e-12)
    with pytest.raises(ValueError, match="needs n_steps"):
        m.simulate(None, initial)
    if GCC:
        got = run_c(net, np.zeros((50, 0)), tmp_path, "double", flat_states(net, initial))
        np.testing.assert_allclose(got, Y, rtol=1e-12, atol=1e-14)
    if OCTAVE:
        export.to_matlab(net, tmp_path / "nar.m")
        script = ("Ai = cell(2, 2); Ai{2, 1} = 0.3; Ai{2, 2} = -0.2; [Y, Xf, Af] = nar(cell(0, 50), cell(0, 0), Ai);"
                  "dlmwrite('y.txt', cell2mat(Y'), 'precision', '%.17g');")
        subprocess.run([OCTAVE, "--no-gui", "--quiet", "--no-init-file", "--eval", script], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
        np.testing.assert_allclose(np.loadtxt(tmp_path / "y.txt"), Y.ravel(), rtol=1e-12, atol=1e-14)


def test_manifest_gives_forms_and_sizes(tmp_path):
    net = compress.to_low_rank(compress.prune(mn.mlp([8, 6, 4], seed=0), 0.5, connections=[("x", "h1")]),
                               rank=2, connections=[("h1", "y")])
    result = export.to_c(net, tmp_path / "m.c")
    rows = {r["connection"]: r for r in result.manifest.rows()}
    assert rows["W[x→h1]"]["written"] == "sparse" and rows["W[x→h1]"]["numbers"] == 24 + 24 + 7
    assert rows["W[h1→y]"]["written"] == "lowrank" and rows["W[h1→y]"]["numbers"] == 2 * (4 + 6)
    text = result.files[0].read_text()
    assert "W[h1→y]     lowrank" in text                   # the manifest heads the header file
    mpo = compress.to_mpo(mn.mlp([4, 6], seed=0), (2, 2), (2, 3), 2)
    row = export.to_python(mpo, tmp_path / "p.py").manifest.rows()[0]
    assert row["written"] == "mpo" and row["numbers"] == 1 * 2 * 2 * 2 + 2 * 3 * 2 * 1


def test_a_three_core_matrix_product_operator_in_every_language(tmp_path):
    """Cores contracted one after another, never the dense matrix, in Python, C and MATLAB."""
    net = mn.Network(seed=0)
    net.add_input("x", 8)
    net.add_layer("h", 12, activation="tanh")
    net.add_layer("y", 2, activation="linear")
    net.connect("x", "h")
    net.connect("h", "y")
    net = compress.to_mpo(net, (2, 2, 2), (2, 3, 2), 3, connections=[("x", "h")])
    X = np.random.default_rng(0).normal(size=(40, 8))
    Y = net(X)
    m = load_module(export.to_python(net, tmp_path / "tt.py").files[0])
    np.testing.assert_allclose(m.predict(X), Y, rtol=1e-12, atol=1e-14)
    source = export.to_c(net, tmp_path / "tt.c").files[1].read_text()
    assert "W_x_h_core2" in source and "W_x_h[" not in source       # the cores, not a dense W
    if GCC:
        np.testing.assert_allclose(run_c(net, X, tmp_path), Y, rtol=1e-12, atol=1e-14)
    if OCTAVE:
        export.to_matlab(net, tmp_path / "tt.m")
        np.savetxt(tmp_path / "x.txt", X, fmt="%.17g")
        subprocess.run([OCTAVE, "--no-gui", "--quiet", "--no-init-file", "--eval",
                        "dlmwrite('y.txt', tt(load('x.txt')), 'precision', '%.17g');"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
        np.testing.assert_allclose(np.loadtxt(tmp_path / "y.txt", delimiter=","), Y, rtol=1e-12, atol=1e-14)


# -- MATLAB / Octave -------------------------------------------------------------------

def octave_script(name, net, X, U, initial):
    """Lines calling ``name`` on the data (files in the folder) and writing its outputs."""
    if U is None:
        return [f"y = {name}(load('{name}_x.txt'));", f"dlmwrite('{name}_y.txt', y, 'precision', '%.17g');"]
    layers = net.topological_order()
    Di = max([d for n, d in net.max_delays().items() if n in net.inputs] or [0])
    Dl = max([d for n, d in net.max_delays().items() if n in net.layers] or [0])
    rows = ["X = [" + "; ".join(f"num2cell(load('{name}_u{k}.txt'), 2)'" for k in range(len(net.inputs))) + "];",
            f"Xi = cell({len(net.inputs)}, {Di}); Ai = cell({len(layers)}, {Dl});"]
    for source, values in initial.items():
        k, D, cells = ((list(net.inputs).index(source) + 1, Di, "Xi") if source in net.inputs
                       else (layers.index(source) + 1, Dl, "Ai"))
        for j, v in enumerate(values):
            rows.append(f"{cells}{{{k}, {D - len(values) + j + 1}}} = [{' '.join(repr(float(x)) for x in v)}];")
    return rows + [f"[Y, Xf, Af] = {name}(X, Xi, Ai);",
                   f"dlmwrite('{name}_y.txt', cell2mat(Y'), 'precision', '%.17g');"]


@needs_octave
def test_matlab_function_runs_in_octave_for_every_kind_and_form(tmp_path):
    script, expected = [], {}
    for kind, form in CASES:
        net, _, X, T, U, initial = case(kind, form)
        name = f"{kind}_{form}"
        export.to_matlab(net, tmp_path / f"{name}.m")
        if U is None:
            np.savetxt(tmp_path / f"{name}_x.txt", X, fmt="%.17g")
            expected[name] = net(X)
        else:
            U1, initial = first_series(U, initial)
            for k, source in enumerate(net.inputs):
                np.savetxt(tmp_path / f"{name}_u{k}.txt", U1[source] if isinstance(U1, dict) else U1, fmt="%.17g")
            expected[name] = net.simulate(U1, initial=initial)[0]
        script += octave_script(name, net, X, U, initial)
    (tmp_path / "run_all.m").write_text("\n".join(script) + "\n")
    run = subprocess.run([OCTAVE, "--no-gui", "--quiet", "--no-init-file", "--eval", "run_all"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert "error:" not in run.stderr.replace("error: ignoring const execution_exception& while preparing to exit",
                                              ""), run.stderr
    for name, Y in expected.items():
        got = np.loadtxt(tmp_path / f"{name}_y.txt", delimiter=",", ndmin=2).reshape(Y.shape)
        np.testing.assert_allclose(got, Y, rtol=1e-12, atol=1e-13, err_msg=name)


@needs_octave
def test_matlab_function_with_scaling_several_inputs_and_final_states(tmp_path):
    net, X = two_by_two()
    export.to_matlab(net, tmp_path / "two.m")
    np.savetxt(tmp_path / "a.txt", X["a"], fmt="%.17g")
    np.savetxt(tmp_path / "b.txt", X["b input"], fmt="%.17g")
    script = ["[y1, y2] = two(load('a.txt'), load('b.txt'));", "dlmwrite('y1.txt', y1, 'precision', '%.17g');",
              "dlmwrite('y2.txt', y2, 'precision', '%.17g');"]
    closed, _, _, _, U, initial = _case("narx_closed", "dense")
    export.to_matlab(closed, tmp_path / "closed.m")
    U1, initial1 = first_series(U, initial)
    np.savetxt(tmp_path / "u.txt", U1, fmt="%.17g")
    _, final = closed.simulate(U1, initial=initial1)
    script += ["X = num2cell(load('u.txt'), 2)';", "Xi = cell(1, 2); Ai = cell(2, 2);"]
    script += [f"Ai{{2, {j + 1}}} = {float(v[0])!r};" for j, v in enumerate(initial1["y"])]
    script += [f"Xi{{1, {j + 1}}} = [{' '.join(repr(float(x)) for x in v)}];" for j, v in enumerate(initial1["x"])]
    script += ["[Y, Xf, Af] = closed(X, Xi, Ai);", "dlmwrite('af.txt', cell2mat(Af(2, :)), 'precision', '%.17g');",
               "dlmwrite('xf.txt', cell2mat(Xf(1, :)'), 'precision', '%.17g');"]
    (tmp_path / "run_it.m").write_text("\n".join(script) + "\n")
    subprocess.run([OCTAVE, "--no-gui", "--quiet", "--no-init-file", "--eval", "run_it"], cwd=tmp_path,
                   capture_output=True, text=True, timeout=120)
    Y = net(X)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "y1.txt", delimiter=","), Y["y"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "y2.txt", delimiter=","), Y["v"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "af.txt", delimiter=","), final["y"].ravel(), rtol=1e-12)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "xf.txt", delimiter=","), final["x"], rtol=1e-12)
    source = (tmp_path / "closed.m").read_text()
    assert source.startswith("function [Y, Xf, Af] = closed(X, Xi, Ai)") and source.isascii()
