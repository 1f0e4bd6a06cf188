"""Deadlines across 国庆 and 春节 (official holidays and make-up workdays), statuses, fallback."""

import datetime as dt
import doctest
import warnings

import pandas as pd
import pytest

import kinmatch.deadlines
from kinmatch.deadlines import DONE_COLUMNS, add_working_days, deadlines
from kinmatch.errors import InputError

D = dt.date


def test_docstring_examples():
    assert doctest.testmod(kinmatch.deadlines).failed == 0


# Expected dates worked out by hand from the State Council holiday notices:
# 2024 国庆 10/1–10/7 off, make-up workdays Sun 9/29 and Sat 10/12;
# 2024 春节 2/10–2/17 off, make-up Sun 2/4 and Sun 2/18;
# 2025 春节 1/28–2/4 off, make-up Sun 1/26 and Sat 2/8;
# 2023 国庆 (with 中秋) 9/29–10/6 off, make-up Sat 10/7 and Sun 10/8.
@pytest.mark.parametrize("found, due", [
    (D(2024, 9, 30), D(2024, 10, 15)),   # Mon before 国庆: 10/8 9 10 11 12(Sat) 14 15
    (D(2024, 9, 28), D(2024, 10, 12)),   # Sat: 9/29(Sun) 9/30 10/8 9 10 11 12(Sat)
    (D(2024, 2, 8), D(2024, 2, 23)),     # Thu before 春节: 2/9 2/18(Sun) 19 20 21 22 23
    (D(2025, 1, 24), D(2025, 2, 10)),    # Fri: 1/26(Sun) 1/27 2/5 6 7 8(Sat) 10
    (D(2023, 9, 27), D(2023, 10, 12)),   # Wed: 9/28 10/7(Sat) 10/8(Sun) 9 10 11 12
    (D(2024, 3, 4), D(2024, 3, 13)),     # ordinary week: Mon + 7 working days
])
def test_dna_deadline_official_calendar(found, due):
    assert add_working_days(found, 7) == (due, True)


def test_plain_weekdays_would_be_wrong_across_spring_festival():
    # Mon–Fri counting from 2024-02-08 would give 2024-02-19; the official calendar 2024-02-23.
    assert add_working_days(D(2024, 2, 8), 7)[0] != D(2024, 2, 19)


def test_outside_calendar_falls_back_to_weekdays_with_warning():
    residents = pd.DataFrame([{"resident_id": "R9", "found_date": "2031-01-06"}])  # a Monday
    with pytest.warns(UserWarning, match="Monday–Friday"):
        table = deadlines(residents, today="2031-01-07").frame
    dna = table.set_index("deadline").loc["dna_request"]
    assert dna["due_date"] == D(2031, 1, 15) and dna["calendar"] == "mon_fri"


def test_no_warning_inside_calendar():
    residents = pd.DataFrame([{"resident_id": "R1", "found_date": "2024-09-30"}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deadlines(residents, today="2024-10-01")


def _table(records, today, done_columns=True):
    """The deadlines of ``records``; ``done_columns``: the file has a (blank) column for every step."""
    frame = pd.DataFrame(records)
    if done_columns:
        for columns in DONE_COLUMNS.values():
            if not any(c in frame.columns for c in columns):
                frame[columns[0]] = None
    frame = deadlines(frame, today=today).frame
    return frame.set_index(["resident_id", "deadline"])


def test_all_due_dates():
    table = _table([{"resident_id": "R1", "found_date": "2024年9月30日"}], "2024-10-01")
    due = table.loc["R1"]["due_date"].to_dict()
    assert due == {"notice": D(2024, 10, 1), "dna_request": D(2024, 10, 15),
                   "long_stay": D(2024, 10, 10), "notice_refresh": D(2024, 10, 30),
                   "placement": D(2024, 12, 30)}


@pytest.mark.parametrize("today, expected", [
    ("2024-09-30", {"notice": "due", "dna_request": "upcoming", "long_stay": "upcoming",
                    "notice_refresh": "upcoming", "placement": "upcoming"}),
    ("2024-10-02", {"notice": "overdue", "dna_request": "upcoming", "long_stay": "upcoming",
                    "notice_refresh": "upcoming", "placement": "upcoming"}),
    ("2024-10-14", {"notice": "overdue", "dna_request": "due", "long_stay": "due",
                    "notice_refresh": "upcoming", "placement": "upcoming"}),
    ("2025-01-05", {"notice": "overdue", "dna_request": "overdue", "long_stay": "due",
                    "notice_refresh": "overdue", "placement": "due"}),
])
def test_statuses_over_time(today, expected):
    table = _table([{"resident_id": "R1", "found_date": "2024-09-30"}], today)
    assert table.loc["R1"]["status"].to_dict() == expected


@pytest.mark.parametrize("column, value, deadline, status", [
    ("notice_date", "2024-09-30", "notice", "done"),
    ("公告状态", "已发布", "notice", "done"),
    ("dna_status", "已采集", "dna_request", "done"),
    ("DNA采集日期", "2024/10/9", "dna_request", "done"),
    ("dna_status", "未采集", "dna_request", "overdue"),
    ("落户状态", "已落户", "placement", "done"),
])
def test_done_columns(column, value, deadline, status):
    table = _table([{"resident_id": "R1", "found_date": "2024-09-30", column: value}], "2025-01-05")
    assert table.loc[("R1", deadline), "status"] == status


def test_notice_refresh_is_monthly_after_last_refresh():
    table = _table([{"resident_id": "R1", "found_date": "2024-09-30",
                     "notice_refresh_date": "2024-12-20"}], "2025-01-05")
    row = table.loc[("R1", "notice_refresh")]
    assert row["due_date"] == D(2025, 1, 20) and row["status"] == "upcoming"


def test_reunited_resident_is_closed():
    table = _table([{"resident_id": "R1", "found_date": "2024-09-30", "status": "已返乡"}],
                   "2025-01-05")
    assert set(table.loc["R1"]["status"]) == {"closed"}


def test_bad_found_date_becomes_an_issue_not_a_crash():
    result = deadlines(pd.DataFrame([
        {"resident_id": "R1", "found_date": "2024年13月"},
        {"resident_id": "R2", "found_date": None},
        {"resident_id": "R3", "found_date": "2024-09-30"},
    ]), today="2024-10-01")
    assert set(result.frame["resident_id"]) == {"R3"}
    rows = result.issues[result.issues["reason"] != "no_done_column"]  # (a file-level note, row None)
    assert rows["record_id"].tolist() == ["R1", "R2"]
    assert set(rows["reason"]) == {"bad_found_date"}


def test_bad_today_is_a_clear_error():
    with pytest.raises(InputError, match="not a date"):
        deadlines(pd.DataFrame([{"resident_id": "R1", "found_date": "2024-09-30"}]), today="soon")


def test_cli_deadlines(tmp_path, capsys):
    from kinmatch.cli import main

    source = tmp_path / "residents.csv"
    pd.DataFrame([{"人员编号": "R1", "入站日期": "2024-09-28"},
                  {"人员编号": "R2", "入站日期": "2024-09-30", "公告状态": "已发布"}]).to_csv(
        source, index=False, encoding="utf-8-sig")
    out = tmp_path / "deadlines.csv"
    assert main(["deadlines", str(source), "--today", "2024-10-09", "-o", str(out)]) == 0
    table = pd.read_csv(out, dtype=str).set_index(["resident_id", "deadline"])
    assert table.loc[("R1", "dna_request"), "due_date"] == "2024-10-12"
    assert table.loc[("R1", "notice"), "status"] == "overdue"
    assert table.loc[("R2", "notice"), "status"] == "done"
    assert main(["deadlines", str(source), "--today", "2024-10-09", "--open"]) == 0
    printed = capsys.readouterr().out
    assert "R1,dna_request" in printed and "R2,notice," not in printed


def test_blank_in_a_datetime64_column_is_an_issue_not_a_hang():
    # Read from Excel, a date column is datetime64 and a blank cell is NaT, not None.
    residents = pd.DataFrame({"resident_id": ["R1", "R2"],
                              "found_date": pd.to_datetime(["2024-09-28", None])})
    result = deadlines(residents, today="2024-10-09")
    assert set(result.frame["resident_id"]) == {"R1"}
    assert result.issues["reason"].tolist() == ["no_done_column"] * 5 + ["bad_found_date"]


@pytest.mark.parametrize("value", [pd.NaT, pd.NA, float("nan"), None])
def test_as_date_of_missing_values_is_none(value):
    assert kinmatch.deadlines._as_date(value) is None


def test_add_working_days_is_bounded():
    with pytest.raises(InputError, match="working days"):
        add_working_days(D(2024, 1, 1), 10**6)


def test_add_working_days_refuses_a_missing_start():
    with pytest.raises(InputError, match="not a date"):
        add_working_days(pd.NaT, 7)


# A found date known only to the month or year is not a day: a status that depends on the unknown
# day is "unknown", with the window of possible due dates; one that holds for every possible day
# stays (the notice of someone found "2024年3月" is overdue in October whatever the day was).
@pytest.mark.parametrize("found, today, deadline, status, due, due_latest", [
    ("2024年3月", "2024-04-05", "long_stay", "unknown", D(2024, 3, 11), D(2024, 4, 10)),
    # 清明 4/4–6 off, Sun 4/7 worked
    ("2024年3月", "2024-04-05", "dna_request", "unknown", D(2024, 3, 12), D(2024, 4, 10)),
    ("2024年3月", "2024-04-05", "notice_refresh", "unknown", D(2024, 4, 1), D(2024, 4, 30)),
    ("2024年3月", "2024-10-09", "notice", "overdue", D(2024, 3, 2), D(2024, 4, 1)),
    ("2024年3月", "2024-04-20", "placement", "upcoming", D(2024, 6, 1), D(2024, 6, 30)),
    ("2024-03", "2024-03-20", "notice", "unknown", D(2024, 3, 2), D(2024, 4, 1)),
    ("2024", "2024-06-01", "placement", "unknown", D(2024, 4, 1), D(2025, 3, 31)),
    ("2024-03-05", "2024-04-05", "long_stay", "due", D(2024, 3, 15), D(2024, 3, 15)),
])
def test_imprecise_found_date(found, today, deadline, status, due, due_latest):
    row = _table([{"resident_id": "R1", "found_date": found}], today).loc[("R1", deadline)]
    assert (row["status"], row["due_date"], row["due_latest"]) == (status, due, due_latest)
    assert ("月" in row["reason"] or "年" in row["reason"]) is (found != "2024-03-05")


def test_imprecise_found_date_kept_with_its_precision():
    row = _table([{"resident_id": "R1", "found_date": "2024年3月"}], "2024-04-05").iloc[0]
    assert row["found_precision"] == "month"


# The one cell-to-text helper every stage shares (kinmatch.normalize.text.text_of).
@pytest.mark.parametrize("value, text", [
    (None, None), (float("nan"), None), (pd.NA, None), (pd.NaT, None), ("", None), ("  \u3000", None),
    (" R1 ", "R1"), (12, "12"), ("<NA>", "<NA>"), (["a"], "['a']"),
])
def test_text_of(value, text):
    from kinmatch.normalize.text import text_of

    assert text_of(value) == text



# Intake blanks a found date after the real today (future_date); a deadline run judged at a
# later --today must still see it: "future" is judged against --today, not the wall clock.
FUTURE = (dt.date.today() + dt.timedelta(days=400)).isoformat()
FUTURE_TODAY = (dt.date.today() + dt.timedelta(days=405)).isoformat()


def test_found_date_blanked_by_intake_is_judged_against_today():
    from kinmatch.intake import read_residents

    residents, intake_issues = read_residents(pd.DataFrame({"人员编号": ["R1", "R2"],
                                                           "入站日期": [FUTURE, "2024-09-28"],
                                                           "公告状态": [None, None]}))
    assert residents["found_date"].isna().iloc[0]  # intake did blank it
    result = deadlines(residents, today=FUTURE_TODAY, intake_issues=intake_issues)
    assert set(result.frame["resident_id"]) == {"R1", "R2"}
    notice = result.frame.set_index(["resident_id", "deadline"]).loc[("R1", "notice")]
    assert notice["found_date"] == dt.date.fromisoformat(FUTURE) and notice["status"] == "overdue"
    assert set(result.issues["reason"]) == {"no_done_column"}  # only the steps the file has no column for


def test_found_date_after_today_says_so():
    from kinmatch.intake import read_residents

    residents, intake_issues = read_residents(pd.DataFrame({"人员编号": ["R1"], "入站日期": [FUTURE]}))
    for today in (None, "2024-10-09"):
        result = deadlines(residents, today=today, intake_issues=intake_issues)
        assert len(result.frame) == 0
        message = result.issues[result.issues["reason"] != "no_done_column"]["message"].item()
        assert FUTURE in message and "after" in message and "no readable" not in message
    raw = deadlines(pd.DataFrame([{"resident_id": "R1", "found_date": FUTURE}]), today="2024-10-09")
    assert raw.issues["reason"].tolist()[-1:] == ["future_found_date"] and len(raw.frame) == 0


def test_cli_deadlines_future_found_date_with_later_today(tmp_path, capsys):
    from kinmatch.cli import main

    source = tmp_path / "residents.csv"
    pd.DataFrame([{"人员编号": "R1", "入站日期": FUTURE}]).to_csv(source, index=False)
    assert main(["deadlines", str(source), "--today", FUTURE_TODAY]) == 0
    printed = capsys.readouterr().out
    assert "R1,notice," in printed and "no readable found date" not in printed


# A file without the columns that mark steps done does not say a step was missed (issue 16).
def test_file_without_done_columns_calls_nothing_overdue():
    result = deadlines(pd.DataFrame([{"resident_id": "R1", "found_date": "2014-03-31"},
                                     {"resident_id": "R2", "found_date": "2024-10-08"}]), today="2024-10-09")
    table = result.frame.set_index(["resident_id", "deadline"])
    assert "overdue" not in set(table["status"])
    old = table.loc["R1"]
    assert old.loc["notice", "status"] == "unrecorded" and "没有记录" in old.loc["notice", "reason"]
    assert old.loc["placement", "status"] == "due"  # a milestone reached is still a fact
    # the monthly refresh: the next monthly date from the found date, not one in 2014
    assert old.loc["notice_refresh", "due_date"] == D(2024, 10, 31)
    assert old.loc["notice_refresh", "status"] == "upcoming"
    recent = table.loc["R2"]
    assert recent.loc["dna_request", "status"] == "upcoming" and recent.loc["notice", "status"] == "due"
    missing = result.issues[result.issues["reason"] == "no_done_column"]
    assert len(missing) == len(DONE_COLUMNS) and missing["row"].isna().all()


def test_a_done_column_for_one_step_only():
    table = _table([{"resident_id": "R1", "found_date": "2014-03-31", "公告状态": None}], "2024-10-09",
                   done_columns=False)
    assert table.loc[("R1", "notice"), "status"] == "overdue"  # the column is there and blank: not done
    assert table.loc[("R1", "dna_request"), "status"] == "unrecorded"


def test_cli_deadlines_without_done_columns(tmp_path, capsys):
    from kinmatch.cli import main

    source = tmp_path / "residents.csv"
    pd.DataFrame([{"人员编号": "R1", "入站日期": "2014-03-31"}]).to_csv(source, index=False, encoding="utf-8-sig")
    assert main(["deadlines", str(source), "--today", "2024-10-09", "--open"]) == 0
    printed = capsys.readouterr().out
    assert ",overdue," not in printed and "R1,notice_refresh" in printed
    assert "file: the file has no column recording" in printed
