"""An age written in a report's birth-date cell is read as an age (or a birth year), with an issue
saying how it was read (kinmatch.normalize.records)."""

import pandas as pd
import pytest

from kinmatch.normalize.records import normalize_missing, normalize_residents


@pytest.mark.parametrize("cell, age, low, high, birth_years, action", [
    ("走失时约75岁", None, 70.0, 80.0, (1939.0, 1950.0), "read_as_age"),
    ("约40岁(走失时)", None, 35.0, 45.0, (1974.0, 1985.0), "read_as_age"),
    ("走失时21岁左右", None, 17.5, 24.5, (1995.0, 2003.0), "read_as_age"),
    ("1950年生", "60", 69.0, 70.0, (1950.0, 1950.0), "read_as_age"),     # a birth year beats a report's age
    ("约40岁(走失时)", "38", 35.0, 41.0, None, "ignored"),                # the age column's 38 gives the age
])
def test_a_report_age_in_the_birth_date_cell(cell, age, low, high, birth_years, action):
    frame = pd.DataFrame({"missing_id": ["M1"], "birth_date": [cell], "age": [age], "missing_date": ["2020-05-01"]})
    normalized, issues = normalize_missing(frame)
    row = normalized.iloc[0]
    assert (row["age_low"], row["age_high"]) == (low, high)
    if birth_years is not None:
        assert (row["birth_year_low"], row["birth_year_high"]) == birth_years
    assert issues[["column", "value", "reason", "action"]].values.tolist() == [
        ["birth_date", cell, "age_in_birth_date", action]]


def test_a_birth_year_in_the_cell_is_still_a_date_and_no_issue():
    frame = pd.DataFrame({"missing_id": ["M1"], "birth_date": ["1950年左右"], "missing_date": ["2020-05-01"]})
    normalized, issues = normalize_missing(frame)
    assert normalized.loc[0, "birth_year_low"] == 1950
    assert issues.empty


def test_unreadable_text_is_still_a_bad_date():
    frame = pd.DataFrame({"missing_id": ["M1"], "birth_date": ["问家属"], "missing_date": ["2020-05-01"]})
    _, issues = normalize_missing(frame)
    assert issues["reason"].tolist() == ["bad_date"]


def test_a_resident_age_in_the_birth_date_cell_is_the_age_when_found():
    frame = pd.DataFrame({"resident_id": ["R1"], "birth_date": ["约60岁"], "found_date": ["2021-03-01"]})
    normalized, issues = normalize_residents(frame)
    assert (normalized.loc[0, "age_low"], normalized.loc[0, "age_high"]) == (55.0, 65.0)
    assert "when found" in issues.loc[0, "message"]


@pytest.mark.parametrize("cell, low, high", [("走失时约75岁", 70, 80), ("约40岁(走失时)", 35, 45)])
def test_an_age_in_the_birth_date_column_of_a_file_is_read_not_blanked(tmp_path, cell, low, high):
    """Through intake from a file: the cell is kept (no bad_date), and the normalizer reads it as
    the age at loss, with an issue row saying so."""
    from kinmatch.intake import read_missing
    from kinmatch.normalize.records import normalize_missing

    path = tmp_path / "reports.csv"
    path.write_text(f"编号,姓名,出生日期,走失日期\nM1,李伟,{cell},2023-05-01\n", encoding="utf-8")
    frame, intake_issues = read_missing(path)
    assert frame["birth_date"].iloc[0] == cell
    assert "bad_date" not in set(intake_issues["reason"])
    normalized, issues = normalize_missing(frame)
    assert low <= normalized["age_low"].iloc[0] <= normalized["age_high"].iloc[0] <= high
    assert (issues["reason"] == "age_in_birth_date").sum() == 1


def test_a_birth_date_cell_that_is_neither_date_nor_age_is_still_blanked(tmp_path):
    from kinmatch.intake import read_missing

    path = tmp_path / "reports.csv"
    path.write_text("编号,姓名,出生日期\nM1,李伟,不记得了吧\nM2,王芳,2023年13月\n", encoding="utf-8")
    frame, issues = read_missing(path)
    assert frame["birth_date"].isna().all() or (frame["birth_date"].iloc[1] is None)
    assert "bad_date" in set(issues["reason"])
