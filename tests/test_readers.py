import numpy as np
import pytest

from matnet.data import DataError, read_csv, read_nnc, read_table
from matnet.data.readers import is_nnc, select_columns


def test_header_detection_and_delimiters(tmp_path):
    (tmp_path / "h.csv").write_text("x;y;label\n1;2;a\n3;4;b\n")
    t = read_csv(tmp_path / "h.csv")
    assert t.names == ["x", "y", "label"] and t.numeric(0) and not t.numeric(2)
    (tmp_path / "n.csv").write_text("1\t2\n3\t4\n")
    t = read_csv(tmp_path / "n.csv")
    assert t.names == ["0", "1"] and t.matrix([0, 1]).tolist() == [[1, 2], [3, 4]]


def test_column_selection(tmp_path):
    (tmp_path / "c.csv").write_text("a,b,c,d\n1,2,3,4\n")
    t = read_csv(tmp_path / "c.csv")
    assert select_columns(t, "b,d") == [1, 3]
    assert select_columns(t, "0:2") == [0, 1] and select_columns(t, "-1") == [3]
    assert select_columns(t, None, default=[2]) == [2]
    with pytest.raises(DataError, match="unknown column 'e'; columns: a, b, c, d"):
        select_columns(t, "e")


def test_bad_values_name_line_and_column(tmp_path):
    (tmp_path / "b.csv").write_text("a,b\n1,2\n3,oops\n")
    t = read_csv(tmp_path / "b.csv")
    with pytest.raises(DataError, match=r"b.csv: line 3, column 'b': 'oops' is not a number"):
        t.matrix([0, 1])
    (tmp_path / "m.csv").write_text("a,b\n1,2\nNA,4\n5,6\n")
    with pytest.raises(DataError, match="line 3, column 'a': missing value"):
        read_csv(tmp_path / "m.csv")
    assert read_csv(tmp_path / "m.csv", missing="drop").n_rows == 2
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataError, match="line 3 has 1 cells, the header has 2"):
        read_csv(tmp_path / "r.csv")


def test_npy_and_npz(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6.0).reshape(3, 2))
    t = read_table(tmp_path / "a.npy")
    assert t.matrix([0, 1]).shape == (3, 2)
    np.savez(tmp_path / "b.npz", x=np.ones((4, 2)), y=np.arange(4))
    t = read_table(tmp_path / "b.npz")
    assert t.names == ["x__0", "x__1", "y"]
    np.save(tmp_path / "o.npy", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="o.npy: not a readable"):
        read_table(tmp_path / "o.npy")


def test_nnc_vectors_matrices_and_errors(tmp_path):
    (tmp_path / "v.csv").write_text("x__0,x__1,x__2,y:label\n1,2,3,0\n4,5,6,1\n")
    assert is_nnc(tmp_path / "v.csv")
    arrays = read_nnc(tmp_path / "v.csv")
    assert arrays["x"].tolist() == [[1, 2, 3], [4, 5, 6]] and arrays["y"].tolist() == [[0], [1]]
    np.savetxt(tmp_path / "a.csv", np.ones((2, 3)), delimiter=",")
    np.savetxt(tmp_path / "b.csv", np.ones((3, 3)), delimiter=",")
    (tmp_path / "shape.csv").write_text("x:image,y:label\na.csv,0\nb.csv,1\n")
    with pytest.raises(DataError, match=r"line 3, variable 'x' has shape \(3, 3\), the first sample has \(2, 3\)"):
        read_nnc(tmp_path / "shape.csv")
    (tmp_path / "gone.csv").write_text("x:image,y:label\nmissing.csv,0\n")
    with pytest.raises(DataError, match="file 'missing.csv' not found"):
        read_nnc(tmp_path / "gone.csv")
    (tmp_path / "rag.csv").write_text("1,2,3\n4,5\n")
    (tmp_path / "ragged.csv").write_text("x:image,y:label\nrag.csv,0\n")
    with pytest.raises(DataError, match="matrix file 'rag.csv' is ragged"):
        read_nnc(tmp_path / "ragged.csv")
    np.save(tmp_path / "n.npy", np.zeros((2, 2)))
    (tmp_path / "np.csv").write_text("x:image,y:label\nn.npy,1\n")
    assert read_nnc(tmp_path / "np.csv")["x"].shape == (1, 2, 2)
    assert not is_nnc(tmp_path / "a.csv")


def test_nnc_images(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(tmp_path / "i.png")
    (tmp_path / "img.csv").write_text("x:image,y:label\ni.png,2\n")
    arrays = read_nnc(tmp_path / "img.csv")
    assert arrays["x"].shape == (1, 3, 4) and arrays["x"][0, 2, 3] == 11
