"""Batch notices: render_notices table, write_notices files, the ``kinmatch notices`` command."""

import doctest

import pandas as pd
import pytest

import kinmatch.notices.batch
from kinmatch.cli import main
from kinmatch.errors import InputError
from kinmatch.notices import render_notices, write_notices

PHONE = "0371-66661234"
RESIDENTS = pd.DataFrame([
    {"resident_id": "R1", "station": "郑州市救助管理站", "name": "李伟", "name_source": "自报",
     "sex": "男", "age": "约60岁", "height": "170cm", "found_date": "2024-10-03",
     "description": "左脸有痣", "contact": PHONE},
    {"resident_id": "R2", "station": "郑州市救助管理站", "sex": "女", "contact": PHONE},
    {"resident_id": "R3", "station": "郑州市救助管理站", "name": "胡春花", "sex": "女",
     "age": "约60岁", "status": "已返乡", "contact": PHONE},
    {"resident_id": "R4", "station": "无电话站", "name": "王山江", "sex": "男", "age": "40岁",
     "height": "165cm"},
    {"resident_id": "R/5 x", "station": "郑州市救助管理站", "name": "张三", "sex": "男",
     "age": "30岁", "height": "175cm", "contact": PHONE},
])


def test_docstring_examples():
    assert doctest.testmod(kinmatch.notices.batch).failed == 0


def test_render_notices_table():
    table = render_notices(RESIDENTS, formats=["txt", "html"])
    assert list(table.columns) == ["resident_id", "format", "text", "skipped"]
    assert len(table) == 10
    skipped = table.drop_duplicates("resident_id").set_index("resident_id")["skipped"].to_dict()
    assert skipped == {"R1": None, "R2": "too_empty", "R3": None, "R4": "no_station_phone",
                       "R/5 x": None}
    withdrawn = table[(table.resident_id == "R3") & (table.format == "txt")]["text"].item()
    assert "撤回" in withdrawn and "胡春花" not in withdrawn


def test_render_notices_pdf_bytes():
    pytest.importorskip("fpdf")
    from kinmatch.notices.poster import FontNotFound, find_cjk_font

    try:
        find_cjk_font()
    except FontNotFound as error:
        pytest.skip(str(error))
    table = render_notices(RESIDENTS.iloc[:1], formats="pdf")
    assert isinstance(table.loc[0, "text"], bytes) and table.loc[0, "text"].startswith(b"%PDF")


def test_privacy_violation_in_template_skips_only_that_notice(tmp_path):
    (tmp_path / "notice.txt.j2").write_text(
        "{% if name == '李伟' %}13812345678{% endif %}{{ name_display }} {{ station.phone }}",
        encoding="utf-8")
    table = render_notices(RESIDENTS, formats="txt", template_dir=tmp_path)
    reasons = table.set_index("resident_id")["skipped"]
    assert reasons["R1"] == "privacy" and reasons["R/5 x"] is None


def test_unknown_format_is_a_clear_error():
    with pytest.raises(InputError, match="docx"):
        render_notices(RESIDENTS, formats="txt,docx")


def test_write_notices_files_and_issues(tmp_path):
    notices, issues = write_notices(RESIDENTS, tmp_path / "out", "txt,md")
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["R1.md", "R1.txt", "R3.md", "R3.txt", "R_5_x.md", "R_5_x.txt"]
    assert not list((tmp_path / "out").glob(".*part"))  # no temporary files left behind
    assert set(issues["record_id"]) == {"R2", "R4"}
    assert set(issues["reason"]) == {"notice_too_empty", "notice_no_station_phone"}


def test_duplicate_ids_do_not_overwrite(tmp_path):
    twice = pd.concat([RESIDENTS.iloc[:1], RESIDENTS.iloc[:1].assign(name="李伟二")])
    write_notices(twice, tmp_path, "txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R1.txt", "R1_2.txt"]


def test_cli_notices(tmp_path, capsys):
    source = tmp_path / "residents.csv"
    RESIDENTS.rename(columns={"resident_id": "人员编号", "name": "姓名", "sex": "性别",
                              "age": "目测年龄", "station": "救助站", "contact": "联系电话"}
                     ).to_csv(source, index=False, encoding="gb18030")
    stations = tmp_path / "stations.csv"
    pd.DataFrame([{"救助站": "无电话站", "地址": "某县某路1号", "联系电话": "0371-12345678"}]).to_csv(
        stations, index=False)
    out = tmp_path / "out"
    assert main(["notices", str(source), "-o", str(out), "--format", "txt,html",
                 "--station-info", str(stations)]) == 0
    printed = capsys.readouterr().out
    assert "wrote 8 notice file(s)" in printed and "too_empty: 1 resident(s): R2" in printed
    assert "0371-12345678" in (out / "R4.txt").read_text(encoding="utf-8")
    # The report goes beside the published folder, never inside it.
    assert not (out / "skipped.csv").exists() and (tmp_path / "out-skipped.csv").is_file()


def test_cli_notices_bad_template_folder(tmp_path, capsys):
    source = tmp_path / "residents.csv"
    RESIDENTS.to_csv(source, index=False)
    assert main(["notices", str(source), "-o", str(tmp_path / "o"), "--templates",
                 str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_pdf_batch_uses_a_font_subset_that_keeps_rare_characters(tmp_path):
    import shutil
    import subprocess

    pytest.importorskip("fpdf")
    from kinmatch.notices.poster import FontNotFound, find_cjk_font

    try:
        full_font = find_cjk_font()
    except FontNotFound as error:
        pytest.skip(str(error))
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    names = ["王堃", "李犇", "赵昇", "钱淼"]
    batch = pd.DataFrame([{**RESIDENTS.iloc[0].to_dict(), "resident_id": f"P{i}", "name": name}
                          for i, name in enumerate(names)])
    table = render_notices(batch, formats="pdf")
    for name, data in zip(names, table["text"], strict=True):
        path = tmp_path / "p.pdf"
        path.write_bytes(data)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
        assert name in text
    import os

    from kinmatch.notices.batch import _batch_font
    from kinmatch.notices.context import notice_context
    from kinmatch.notices.rendering import environment

    contexts = [(notice_context(r, {}), None) for r in batch.to_dict("records")]
    subset = _batch_font(contexts, environment(), ["pdf"])
    assert subset and os.path.getsize(subset) < os.path.getsize(full_font) / 5


# A station's own file often has no station or phone column at all: one --station-info row
# must then serve every record, and a run that writes nothing must not look like success.
NO_STATION = RESIDENTS.drop(columns=["station", "contact"])
ONE_STATION = pd.DataFrame([{"救助站": "某县救助站", "地址": "某县某路1号", "联系电话": "0371-12345678"}])


def test_single_station_info_serves_records_without_a_station():
    table = render_notices(NO_STATION, formats="txt", station_info=ONE_STATION)
    reasons = table.set_index("resident_id")["skipped"].to_dict()
    assert reasons == {"R1": None, "R2": "too_empty", "R3": None, "R4": None, "R/5 x": None}
    assert "0371-12345678" in table.set_index("resident_id").loc["R1", "text"]


def test_two_stations_are_not_guessed_for_a_record_without_one():
    two = pd.concat([ONE_STATION, ONE_STATION.assign(救助站="另一站", 联系电话="0371-87654321")])
    table = render_notices(NO_STATION, formats="txt", station_info=two)
    assert set(table["skipped"]) == {"no_station_phone"}


def test_no_station_phone_message_says_how_to_fix():
    from kinmatch.issues import IssueLog

    log = IssueLog()
    render_notices(NO_STATION.iloc[:1], formats="txt", issues=log)
    message = log.to_frame()["message"].item()
    assert "--station-info" in message and "联系电话" in message


def test_cli_notices_writing_nothing_fails(tmp_path, capsys):
    source = tmp_path / "residents.csv"
    NO_STATION.to_csv(source, index=False)
    assert main(["notices", str(source), "-o", str(tmp_path / "out")]) != 0
    captured = capsys.readouterr()
    assert "no notice" in captured.err and "--station-info" in captured.err
    assert "no_station_phone: 5 resident(s)" in captured.out and "fix: give --station-info" in captured.out
    stations = tmp_path / "stations.csv"
    ONE_STATION.to_csv(stations, index=False)
    assert main(["notices", str(source), "-o", str(tmp_path / "out"),
                 "--station-info", str(stations)]) == 0
    assert "wrote 12 notice file(s)" in capsys.readouterr().out  # 4 residents x txt,md,html


def test_output_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    source = tmp_path / "residents.csv"
    RESIDENTS.to_csv(source, index=False)
    taken = tmp_path / "taken.txt"
    taken.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="not a folder"):
        write_notices(RESIDENTS, taken, "txt")
    assert main(["notices", str(source), "-o", str(taken)]) == 2
    err = capsys.readouterr().err
    assert "not a folder" in err and "Traceback" not in err


def test_demo_sized_batch_skip_report(tmp_path):
    """The demo writes txt notices for all its 200 simulated residents (about 0.15 s measured);
    the skip report is a DataFrame naming each skipped resident and why."""
    from kinmatch.commands.demo import write_station_files
    from kinmatch.datasets import simulate
    from kinmatch.intake import read_residents

    sim = simulate(n_missing=50, n_residents=200, seed=7)
    residents, _ = read_residents(write_station_files(sim, tmp_path)["residents"])
    assert len(residents) == 200
    phone_columns = [c for c in ("contact", "station") if c in residents.columns]
    broken = residents.copy()
    broken.loc[broken.index[:5], phone_columns] = None  # no station, no phone
    keep = ["resident_id", "source_row", *phone_columns]
    broken.loc[broken.index[5:8], [c for c in broken.columns if c not in keep]] = None  # empty
    notices, skipped = write_notices(broken, tmp_path / "notices", "txt")
    assert isinstance(skipped, pd.DataFrame)
    assert {"record_id", "reason", "message"} <= set(skipped.columns)
    reasons = skipped.set_index("record_id")["reason"].to_dict()
    ids = broken["resident_id"].tolist()
    assert {ids[i]: reasons.get(ids[i]) for i in range(8)} == (
        {ids[i]: "notice_no_station_phone" for i in range(5)}
        | {ids[i]: "notice_too_empty" for i in range(5, 8)})
    assert len(skipped) == (notices["skipped"].notna()).sum() == 8
    assert len(list((tmp_path / "notices").glob("*.txt"))) == 192


def test_notices_of_residents_reunited_in_the_case_store_are_withdrawn(tmp_path):
    """A reunion recorded in the store turns the public notice into the withdrawn version, with no
    status column in the station's file."""
    import datetime as dt

    from review_fixtures import MISSING, RESIDENTS, candidates_table

    from kinmatch.review.store import Store

    db = tmp_path / "cases.db"
    store = Store(db)
    store.load_candidates(candidates_table(), RESIDENTS, MISSING, run_id="r")
    store.decide("R1", "M1", "same", "alice")
    store.second_confirm("R1", "M1", "bob")
    store.advance_case("R1", "reunited", "bob", event_date=dt.date(2026, 1, 5))
    store.close()
    residents = tmp_path / "residents.csv"
    frame = RESIDENTS.drop(columns=[c for c in ("status",) if c in RESIDENTS.columns])
    frame.assign(station="测试救助站", contact="0371-12345678").to_csv(residents, index=False)
    plain, with_store = tmp_path / "plain", tmp_path / "store"
    assert main(["notices", str(residents), "-o", str(plain), "--format", "txt"]) == 0
    assert main(["notices", str(residents), "-o", str(with_store), "--format", "txt", "--db", str(db)]) == 0
    r1_plain = next(plain.glob("*R1*")).read_text(encoding="utf-8")
    r1_store = next(with_store.glob("*R1*")).read_text(encoding="utf-8")
    r2_store = next(with_store.glob("*R2*")).read_text(encoding="utf-8")
    assert "撤回" not in r1_plain and "撤回" in r1_store  # withdrawn: name and photo hidden
    assert "撤回" not in r2_store  # only the reunited resident's notice changes
