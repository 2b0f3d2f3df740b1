import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import matnet as mn
from matnet import io as mio
from conftest import random_dag, random_inputs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10_000), st.sampled_from(["float32", "float64"]))
def test_save_load_round_trip(tmp_path, seed, dtype):
    net = random_dag(seed, dtype=dtype, activations=["tanh", "softmax", "relu", "hardlim", "satlins"])
    path = tmp_path / f"m{seed}.npz"
    net.save(path)
    back = mn.load(path)
    assert back.dtype == net.dtype and back.outputs == net.outputs
    assert back.get_flat().tobytes() == net.get_flat().tobytes()
    assert {k: c.delays for k, c in back.connections.items()} == {k: c.delays for k, c in net.connections.items()}
    X = random_inputs(net, 3, seed)
    a, b = net(X), back(X)
    for k in (a if isinstance(a, dict) else {0: a}):
        np.testing.assert_array_equal((a if isinstance(a, dict) else {0: a})[k], (b if isinstance(b, dict) else {0: b})[k])


def test_file_layout(tmp_path):
    net = mn.mlp([2, 3, 1], seed=0)
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert set(z.files) == {"matnet.json", "W/x/h1", "W/h1/y", "b/h1", "b/y"}
        doc = json.loads(str(z["matnet.json"]))
    assert doc["format"] == "matnet" and doc["version"] == 1 and doc["outputs"] == ["y"]
    assert doc["layers"][0] == {"name": "h1", "size": 3, "activation": "tanh", "bias": True}


def _rewrite(src, dst, change):
    """Copy an npz archive member by member, letting ``change(name, bytes)`` edit members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item.filename, data)


def _with_document(src, dst, edit):
    def change(name, data):
        if name != "matnet.json.npy":
            return data
        import io
        doc = json.loads(str(np.load(io.BytesIO(data))))
        edit(doc)
        buf = io.BytesIO()
        np.save(buf, np.array(json.dumps(doc)))
        return buf.getvalue()
    _rewrite(src, dst, change)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    mn.mlp([2, 3, 1], seed=0).save(path)
    return path


def test_truncated_file(saved, tmp_path):
    bad = tmp_path / "trunc.npz"
    bad.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(mn.ModelFileError, match="trunc.npz: not a matnet model file"):
        mn.load(bad)


def test_corrupted_bytes(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    # flip bytes inside the first member's compressed data
    data[60:70] = bytes(255 - b for b in data[60:70])
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(mn.ModelFileError, match="corrupt.npz: "):
        mn.load(bad)


def test_tampered_weights_fail_the_checksum(saved, tmp_path):
    import io

    def change(name, data):
        if name == "W/x/h1.npy":
            buf = io.BytesIO()
            np.save(buf, np.zeros((3, 2)))
            return buf.getvalue()
        return data
    bad = tmp_path / "tampered.npz"
    _rewrite(saved, bad, change)
    with pytest.raises(mn.ModelFileError, match=r"tampered.npz: array W/x/h1 does not match its checksum"):
        mn.load(bad)


def test_wrong_shape_and_missing_array(saved, tmp_path):
    bad = tmp_path / "shape.npz"
    _with_document(saved, bad, lambda d: d["layers"][0].update(size=4))
    with pytest.raises(mn.ModelFileError, match=r"array W/x/h1 has shape \(3, 2\), expected \(4, 2\)"):
        mn.load(bad)
    bad2 = tmp_path / "missing.npz"
    _rewrite(saved, bad2, lambda name, data: None if name == "b/y.npy" else data)
    with pytest.raises(mn.ModelFileError, match="arrays do not match the model description \\(missing: b/y"):
        mn.load(bad2)


def test_future_version(saved, tmp_path):
    bad = tmp_path / "future.npz"
    _with_document(saved, bad, lambda d: d.update(version=99))
    with pytest.raises(mn.ModelFileError, match="written by a newer matnet \\(format version 99\\)"):
        mn.load(bad)


def test_bad_document_fields(saved, tmp_path):
    bad = tmp_path / "doc.npz"
    _with_document(saved, bad, lambda d: d["layers"][0].update(activation="evil"))
    with pytest.raises(mn.ModelFileError, match="doc.npz: invalid model description: unknown activation 'evil'"):
        mn.load(bad)
    bad = tmp_path / "doc2.npz"
    _with_document(saved, bad, lambda d: d.update(format="other"))
    with pytest.raises(mn.ModelFileError, match="not a matnet model file"):
        mn.load(bad)


def test_pickle_is_never_loaded(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    p = tmp_path / "evil.npz"
    p.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(mn.ModelFileError):
        mn.load(p)
    # an npz holding an object array
    p2 = tmp_path / "evil2.npz"
    np.savez(p2, **{"matnet.json": np.array([Boom()], dtype=object)})
    with pytest.raises(mn.ModelFileError):
        mn.load(p2)
    assert not (tmp_path / "pwned").exists()


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz: no such file"):
        mn.load(tmp_path / "nope.npz")


def test_save_is_atomic(saved, monkeypatch):
    before = saved.read_bytes()
    net = mn.mlp([2, 3, 1], seed=1)

    def fail(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(mio.np, "savez_compressed", fail)
    with pytest.raises(OSError, match="disk full"):
        net.save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == ["model.npz"]  # no temporary left


def test_custom_activation_cannot_be_saved(tmp_path):
    net = mn.Network.from_matrices([np.ones((1, 1))], activations=[(np.sin, np.cos)])
    with pytest.raises(ValueError, match="custom activation 'sin'"):
        net.save(tmp_path / "m.npz")
