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
