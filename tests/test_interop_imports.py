"""How matnet.interop loads: its submodules are attributes, imported (with their optional
package) on first use; each submodule is ordinary code with module-level classes; without
the optional packages, every converter names the extra to install."""
import importlib
import subprocess
import sys

import pytest

import matnet.interop

OPTIONAL = ("onnx", "onnxruntime", "torch", "sklearn")


def run(code):
    """Run ``code`` in a fresh interpreter; its stdout, stripped (stderr shown on failure)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_matnet_interop_imports_no_optional_package():
    code = f"""
import sys
import matnet, matnet.interop
print(sorted(name for name in {OPTIONAL!r} if name in sys.modules))
"""
    assert run(code) == "[]"


def test_submodules_are_attributes_loaded_on_first_use():
    for package in ("onnx", "torch", "sklearn"):
        pytest.importorskip(package)
    code = """
import matnet
matnet.interop.onnx.to_onnx; matnet.interop.torch.to_torch; matnet.interop.sklearn.MatnetRegressor
assert matnet.interop.to_onnx is matnet.interop.onnx.to_onnx
assert matnet.interop.MatnetClassifier is matnet.interop.sklearn.MatnetClassifier
assert {"onnx", "torch", "sklearn", "to_torch"} <= set(dir(matnet.interop))
print("ok")
"""
    assert run(code) == "ok"


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="module 'matnet.interop' has no attribute 'keras'"):
        matnet.interop.keras


@pytest.mark.parametrize("module, classes", [("torch", ["Affine", "Hardlim", "MatnetModule"]),
                                             ("sklearn", ["MatnetRegressor", "MatnetClassifier"])])
def test_classes_are_ordinary_module_level_classes(module, classes):
    pytest.importorskip(module)
    submodule = importlib.import_module(f"matnet.interop.{module}")
    assert "__getattr__" not in vars(submodule)
    for name in classes:
        cls = vars(submodule)[name]
        assert (cls.__module__, cls.__qualname__) == (submodule.__name__, name)


BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'onnx', 'onnxruntime', 'torch', 'sklearn', 'joblib', 'dask', 'pandas',
                                  'matplotlib', 'networkx', 'threadpoolctl'}:
            raise ImportError('blocked ' + name)
sys.meta_path.insert(0, Block())
"""


def test_without_optional_packages_each_converter_names_its_extra():
    """matnet, matnet.interop and matnet.sweeps import with only NumPy and SciPy; a converter,
    or a submodule that needs an optional package, then names the extra to install."""
    code = BLOCK + """
import matnet, matnet.interop, matnet.sweeps
net = matnet.mlp([2, 1], seed=0)
for f, extra in [(lambda: matnet.interop.to_onnx(net, 'x.onnx'), 'onnx'), (lambda: matnet.interop.to_torch(net), 'torch'),
                 (lambda: matnet.interop.to_sklearn(net), 'sklearn'), (lambda: matnet.interop.torch, 'torch'),
                 (lambda: __import__('matnet.interop.onnx'), 'onnx'), (lambda: matnet.MatnetRegressor, 'sklearn'),
                 (lambda: matnet.sweeps.sweep(matnet.mlp, {'sizes': [[2, 1]]}, [[0, 0]] * 4, [[0]] * 4), 'sweep')]:
    try:
        f()
    except ImportError as e:
        assert f'pip install matnet[{extra}]' in str(e), e
    else:
        raise AssertionError('no ImportError')
print('ok')
"""
    assert run(code) == "ok"


def test_star_import_needs_only_numpy_and_scipy():
    assert run(BLOCK + "from matnet import *\nprint('ok')") == "ok"
