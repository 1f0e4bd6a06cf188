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
