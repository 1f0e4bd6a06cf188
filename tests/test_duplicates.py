"""Rows that share an id: intake and linking say the same, and the user chooses (issue 16)."""

import pandas as pd
import pytest

import kinmatch
from kinmatch.errors import InputError

RESIDENTS = pd.DataFrame({"编号": ["R1", "R2", "R1"], "姓名": ["吴春花", "李伟", "吴春华"], "性别": ["女", "男", "女"],
                          "入站日期": ["2024-03-01", "2024-03-02", "2024-03-03"]})
MISSING = pd.DataFrame({"编号": ["M1", "M2"], "姓名": ["胡春花", "李玮"], "性别": ["女", "男"],
                        "走失日期": ["2024-02-01", "2024-02-20"]})


@pytest.mark.parametrize("on_duplicate, names, action", [
    ("stop", ["吴春花", "李伟", "吴春华"], "row_kept"),
    ("first", ["吴春花", "李伟"], "row_skipped"),
    ("last", ["李伟", "吴春华"], "row_skipped"),
])
def test_intake_choice(on_duplicate, names, action):
    frame, issues = kinmatch.read_residents(RESIDENTS, on_duplicate=on_duplicate)
    assert frame["name"].tolist() == names
    duplicate = issues[issues["reason"] == "duplicate_id"]
    assert duplicate["action"].tolist() == [action]
    # the skipped row is the one the issue names
    assert duplicate["row"].tolist() == [4 if on_duplicate != "last" else 2]
    if on_duplicate == "stop":
        assert "linking refuses" in duplicate["message"].item() and "--on-duplicate" in duplicate["message"].item()


def test_link_says_what_intake_said():
    residents, _ = kinmatch.read_residents(RESIDENTS)
    missing, _ = kinmatch.read_missing(MISSING)
    with pytest.raises(InputError, match="on_duplicate='first' or 'last'"):
        kinmatch.link(residents, missing, progress=False)
    with pytest.warns(UserWarning, match="the last row of each id is kept"):
        result = kinmatch.link_run(residents, missing, progress=False, on_duplicate="last", n_jobs=1)
    assert result.residents.set_index("resident_id").loc["R1", "name"] == "吴春华"


def test_bad_choice_is_refused():
    with pytest.raises(InputError, match="on_duplicate must be one of"):
        kinmatch.read_residents(RESIDENTS, on_duplicate="merge")


def test_cli_on_duplicate(tmp_path, capsys):
    from kinmatch.cli import main

    RESIDENTS.to_csv(tmp_path / "r.csv", index=False, encoding="utf-8-sig")
    MISSING.to_csv(tmp_path / "m.csv", index=False, encoding="utf-8-sig")
    out = tmp_path / "c.csv"
    assert main(["link", str(tmp_path / "r.csv"), str(tmp_path / "m.csv"), "-o", str(out), "--no-progress"]) != 0
    err = capsys.readouterr().err
    assert "'R1'" in err and "--on-duplicate first|last" in err and not out.exists()
    assert main(["link", str(tmp_path / "r.csv"), str(tmp_path / "m.csv"), "-o", str(out), "--no-progress",
                 "--on-duplicate", "first"]) == 0
    table = pd.read_csv(out, dtype=str)
    assert set(table["resident_id"]) <= {"R1", "R2"} and len(table)
    issues = pd.read_csv(tmp_path / "c.issues.csv", dtype=str)
    assert issues.loc[issues["reason"] == "duplicate_id", "action"].tolist() == ["row_skipped"]
