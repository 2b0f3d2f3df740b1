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


def _narx_in_every_form():
    from matnet import compress
    net = mn.narx([1, 2], [1, 2], [6], n_inputs=2, seed=0)
    net.input_scaling = {"x": mn.data.minmax(np.random.default_rng(1).normal(size=(20, 2)))}
    net.output_scaling = {"y": mn.data.minmax(np.random.default_rng(2).normal(size=(20, 1)))}
    return {"dense": net, "sparse": compress.prune(net, 0.5, seed=0),
            "lowrank": compress.to_low_rank(net, rank=2),
            "mpo": compress.to_mpo(net, {k: (1, W.shape[1]) for k, W in net.weights.items()},
                                   {k: (1, W.shape[0]) for k, W in net.weights.items()}, bond_dim=2)}


def _damaged(data, kind, rng):
    """``data`` (a model file's bytes) with one kind of damage: bytes flipped, cut short,
    or one zip member's content altered (its CRC made right, so the reader sees it)."""
    if kind == "flip":
        out = bytearray(data)
        for i in rng.integers(0, len(out), size=int(rng.integers(1, 8))):
            out[i] ^= int(rng.integers(1, 256))
        return bytes(out)
    if kind == "truncate":
        return data[:int(rng.integers(0, len(data)))]
    import io as _io
    with zipfile.ZipFile(_io.BytesIO(data)) as zin:
        members = [(info, zin.read(info)) for info in zin.infolist()]
    index = int(rng.integers(len(members)))
    info, content = members[index]
    content = bytearray(content)
    where = rng.integers(0, max(len(content), 1), size=int(rng.integers(1, 6)))
    for i in where:
        if len(content):
            content[i] ^= int(rng.integers(1, 256))
    if rng.random() < 0.3:
        content = content[:int(rng.integers(0, len(content) + 1))]
    members[index] = (info, bytes(content))
    buffer = _io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, content in members:
            zout.writestr(info.filename, content)
    return buffer.getvalue()


def _equal(a, b):
    return (a.dtype == b.dtype and list(a.layers) == list(b.layers) and list(a.connections) == list(b.connections)
            and np.array_equal(a.get_flat(), b.get_flat()) and a.feedback == b.feedback
            and a.input_scaling.keys() == b.input_scaling.keys()
            and all(np.array_equal(a.input_scaling[k].scale, b.input_scaling[k].scale) for k in a.input_scaling))


@pytest.mark.parametrize("form", ["dense", "sparse", "lowrank", "mpo"])
def test_every_damaged_file_loads_unchanged_or_fails_with_one_clear_error(form, tmp_path):
    """Seeded fuzzing: 120 damaged copies per weight form (40 of each kind of damage)."""
    net = _narx_in_every_form()[form]
    path = tmp_path / "model.npz"
    net.save(path)
    data = path.read_bytes()
    rng = np.random.default_rng(sum(map(ord, form)))
    outcomes = {"loaded": 0, "refused": 0}
    for k in range(120):
        kind = ("flip", "truncate", "member")[k % 3]
        damaged = tmp_path / f"damaged{k}.npz"
        damaged.write_bytes(_damaged(data, kind, rng))
        try:
            back = mn.load(damaged)
        except mio.ModelFileError as e:
            assert str(e).startswith(f"{damaged}: ") and "\n" not in str(e), (kind, str(e))
            outcomes["refused"] += 1
        else:
            assert _equal(back, net), (kind, k)
            outcomes["loaded"] += 1
    assert outcomes["refused"] >= 60, outcomes


def test_feature_names_are_kept_and_checked(tmp_path):
    net = mn.mlp([2, 3, 1], seed=0)
    net.feature_names = {"x": ["speed", "angle"], "y": ["force"]}
    net.save(tmp_path / "n.npz")
    back = mn.load(tmp_path / "n.npz")
    assert back.feature_names == {"x": ["speed", "angle"], "y": ["force"]}
    assert back.copy().feature_names == back.feature_names
    _with_document(tmp_path / "n.npz", tmp_path / "bad.npz", lambda d: d.update(feature_names={"x": ["only one"]}))
    with pytest.raises(mio.ModelFileError, match="feature_names must map inputs and layers to one name per column"):
        mn.load(tmp_path / "bad.npz")


def test_the_network_picture_names_input_and_output_units_by_their_columns():
    import matplotlib
    matplotlib.use("Agg")
    from matnet import plot
    net = mn.mlp([2, 3, 1], seed=0)
    net.feature_names = {"x": ["speed", "angle"], "y": ["force"]}
    texts = {t.get_text() for t in plot.network(net).axes[0].texts}
    assert {"speed", "angle", "force"} <= texts and "x[0]" not in texts
