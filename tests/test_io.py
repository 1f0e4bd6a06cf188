import pandas as pd
import pytest

from kinmatch._io import atomic_write, write_csv


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "candidates.csv"
    target.write_text("old complete content", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_text(encoding="utf-8") == "old complete content"
    assert [p.name for p in tmp_path.iterdir()] == ["candidates.csv"]


def test_write_csv_roundtrip(tmp_path):
    frame = pd.DataFrame({"resident_id": ["R1"], "姓名": ["胡春花"]})
    path = write_csv(frame, tmp_path / "out.csv")
    assert pd.read_csv(path, encoding="utf-8-sig").equals(frame)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_follow_the_umask(tmp_path, mask, mode):
    import os
    import stat

    old = os.umask(mask)
    try:
        path = write_csv(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
        with atomic_write(tmp_path / "notice.txt") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "notice.txt").stat().st_mode) == mode


def test_a_replaced_file_keeps_its_mode(tmp_path):
    import os
    import stat

    path = tmp_path / "out.csv"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o640)
    write_csv(pd.DataFrame({"a": [1]}), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_write_csv_floats_as_pandas_writes_them(tmp_path):
    """write_csv formats float cells itself (repr): the bytes equal pandas' own formatting."""
    import numpy as np

    from kinmatch._io import csv_text, excel_safe

    rng = np.random.default_rng(3)
    edge = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e16, 9999999999999998.0, 1e-4, 9.9999e-5, 1e-5, 5e-324,
            1.7976931348623157e308, 0.1, 1 / 3, 14.369264806783375, -1.4799607848307108]
    values = np.concatenate([edge, rng.normal(size=2000) * 10.0 ** rng.integers(-30, 30, 2000)])
    frame = pd.DataFrame({"id": [f"R{i}" for i in range(len(values))], "w": values,
                          "f32": values.astype(np.float32), "n": np.arange(len(values))})
    expected = excel_safe(frame).to_csv(index=False, lineterminator="\r\n")
    assert csv_text(frame) == expected
    path = write_csv(frame, tmp_path / "w.csv")
    assert path.read_bytes() == ("\ufeff" + expected).encode("utf-8")
    assert csv_text(frame, float_format="%.3f") == excel_safe(frame).to_csv(index=False, lineterminator="\r\n",
                                                                             float_format="%.3f")


def _pandas_csv(frame, **kwargs):
    """What pandas writes for the escaped frame: the reference write_csv / csv_text must equal."""
    from kinmatch._io import excel_safe

    kwargs.setdefault("lineterminator", "\r\n")
    return excel_safe(frame).to_csv(index=False, **kwargs)


_TEXT = ["", "a", "a,b", 'say "hi"', "line\nbreak", "cr\rx", "\r", "=1+1", "-3", "+86 138", "@x", "\tx",
         "寻亲", "姓名相同(范娜/范娜) +10.8; 口音", " lead", "trail ", "'=quoted"]


@pytest.mark.parametrize("terminator", ["\r\n", "\n"])
def test_write_csv_equals_pandas_on_every_column_kind(terminator):
    """The column-wise writer gives pandas' characters for text (quoted, escaped, blank), floats
    (NaN, inf, -0.0), ints, booleans, and falls back to pandas for other types."""
    import numpy as np

    from kinmatch._io import csv_text

    rng = np.random.default_rng(5)
    n = 400
    text = np.array([_TEXT[i] for i in rng.integers(0, len(_TEXT), n)], dtype=object)
    text[rng.random(n) < 0.1] = None
    text[rng.random(n) < 0.05] = np.nan
    floats = rng.choice([0.0, -0.0, np.nan, np.inf, -np.inf, 0.1, 1 / 3, 1e-05, 2.5], n)
    frame = pd.DataFrame({"id": [f"R{i}" for i in range(n)], "text": text, "w": floats,
                          "p": rng.random(n), "rank": np.arange(n), "u8": np.arange(n, dtype=np.uint8),
                          "flag": rng.random(n) < 0.5,
                          "mixed": pd.Series([1, "x", 2.5, None, (1, 2)] * (n // 5), dtype=object),
                          "=head": ["," for _ in range(n)]})
    assert csv_text(frame, lineterminator=terminator) == _pandas_csv(frame, lineterminator=terminator)
    for other in ({"d": pd.to_datetime(["2023-01-02", None] * 2)}, {"f32": np.array([0.1, np.nan], np.float32)},
                  {"c": pd.Categorical(["=a", "b"])}, {"i": pd.array([1, None], dtype="Int64")}):
        odd = pd.DataFrame(other)
        assert csv_text(odd) == _pandas_csv(odd)
    assert csv_text(frame, float_format="%.2f") == _pandas_csv(frame, float_format="%.2f")


@pytest.mark.parametrize("column", [["", "x", None], [None, None], []])
def test_write_csv_one_column_and_empty_frames_as_pandas(column, tmp_path):
    from kinmatch._io import csv_text

    frame = pd.DataFrame({"note": pd.Series(column, dtype=object)})
    assert csv_text(frame) == _pandas_csv(frame)
    assert csv_text(frame.iloc[:0]) == _pandas_csv(frame.iloc[:0])
    empty = pd.DataFrame(index=range(2))
    assert csv_text(empty) == _pandas_csv(empty)
    unnamed = frame.rename(columns={"note": ""})
    assert csv_text(unnamed) == _pandas_csv(unnamed)
    path = write_csv(frame, tmp_path / "one.csv")
    assert path.read_bytes() == ("\ufeff" + _pandas_csv(frame)).encode("utf-8")


def test_write_csv_many_rows_in_several_writes(tmp_path):
    """Rows go out in blocks: a table longer than one block is whole and in order."""
    import numpy as np

    frame = pd.DataFrame({"id": [f"M{i}" for i in range(45_001)], "score": np.linspace(0, 1, 45_001)})
    path = write_csv(frame, tmp_path / "long.csv")
    assert path.read_bytes() == ("\ufeff" + _pandas_csv(frame)).encode("utf-8")


def test_write_csv_rows_in_blocks_and_other_encodings(tmp_path, monkeypatch):
    """Rows joined a block at a time are the whole table in order; a file in another encoding and
    the text of csv_text get the same characters as pandas."""
    import numpy as np

    from kinmatch import _io
    from kinmatch._io import csv_rows, csv_text

    rng = np.random.default_rng(11)
    n = 1_003
    frame = pd.DataFrame({"id": [f"R{i}" for i in range(n)],
                          "note": [_TEXT[i] for i in rng.integers(0, len(_TEXT), n)],
                          "w": rng.choice([0.5, -0.0, np.nan, 1e-05], n), "rank": rng.integers(1, 9, n)})
    expected = _pandas_csv(frame)
    monkeypatch.setattr(_io, "ROW_BLOCK", 100)
    assert csv_text(frame) == expected
    assert csv_rows(frame) == expected.split("\r\n", 1)[1].encode("utf-8")
    path = write_csv(frame, tmp_path / "gbk.csv", encoding="gb18030")
    assert path.read_bytes() == expected.encode("gb18030")


def test_text_arrow_cannot_hold_goes_to_pandas():
    """A lone surrogate (text decoded with surrogateescape) is written by pandas, as before."""
    from kinmatch._io import csv_rows, csv_text

    frame = pd.DataFrame({"note": ["ok", "bad\udcff"], "n": [1, 2]})
    assert csv_rows(frame) is None
    assert csv_text(frame) == _pandas_csv(frame)


@pytest.mark.parametrize("cells", [["=1,2", "x"], ['"=a"', "-1"], ["\r=", "ok", None], ["a\nb", "+x\"y"]])
def test_cells_both_escaped_and_quoted_as_pandas(cells):
    from kinmatch._io import csv_rows, csv_text

    frame = pd.DataFrame({"note": pd.Series(cells, dtype=object), "other": ["p"] * len(cells)})
    assert csv_text(frame) == _pandas_csv(frame)
    assert csv_rows(frame) == _pandas_csv(frame).split("\r\n", 1)[1].encode("utf-8")


@pytest.mark.parametrize("text", ["kinmatch-0.1-abc", "=1,2", 'a"b', "-3", "x\r\ny"])
def test_one_text_in_every_row_as_pandas(text):
    """A column that holds one text in every row (made once, then repeated) is written as pandas
    writes it: escaped and quoted as any cell; a column that only starts and ends with it is not
    taken for one."""
    from kinmatch._io import csv_rows, csv_text

    same = pd.DataFrame({"v": pd.Series([text] * 5, dtype=object), "n": range(5)})
    assert csv_text(same) == _pandas_csv(same)
    assert csv_rows(same) == _pandas_csv(same).split("\r\n", 1)[1].encode("utf-8")
    mixed = same.assign(v=pd.Series([text, "other", pd.NA, None, text], dtype=object))
    assert csv_text(mixed) == _pandas_csv(mixed)


@pytest.mark.parametrize("seed", [0, 1])
def test_float_texts_by_arrow_equal_repr(seed):
    """Arrow's float texts, completed to Python's layout, equal ``repr`` (what pandas writes): on
    random bit patterns, every decade from 1e-30 to 1e30, integers, both sides of each notation's
    bounds, and the values a spreadsheet meets in a candidate table."""
    import numpy as np

    from kinmatch._io import FLOATS_BY_ARROW, _float_texts

    rng = np.random.default_rng(seed)
    n = 50_000
    edges = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e16, 9999999999999998.0, 1e-4, 9.9999e-5, 1e-5, 1e-6, 1.2e-6,
             9.99e-7, 1e-7, 2.5e-5, -2.5e-5, 5e-324, 1.7976931348623157e308, 0.1, 1 / 3, 1e15, 123456789012.0,
             0.00012, 100.0, -7.0]
    values = np.concatenate([
        rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64),
        10.0 ** rng.uniform(-30, 30, n) * rng.choice([-1.0, 1.0], n),
        10.0 ** rng.uniform(-8, -3, n),
        rng.uniform(-40, 40, n), np.round(rng.uniform(-9, 9, n), 1),
        rng.integers(-2**62, 2**62, n).astype(float), np.array(edges * 50)])
    assert len(values) >= FLOATS_BY_ARROW
    expected = ["" if v != v else repr(v) for v in values.tolist()]
    assert _float_texts(values).to_pylist() == expected
    assert _float_texts(values[:10]).to_pylist() == expected[:10]  # few values: repr itself
