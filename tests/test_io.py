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
