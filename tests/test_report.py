"""The campaign report: counts checked against a store filled with known events, and the three formats."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import pandas as pd
import pytest
from review_fixtures import BACKENDS, fresh_store_url

from kinmatch.cli import main
from kinmatch.report.counts import COMPLIANCE, METRICS, NO_STATION, campaign_counts
from kinmatch.review import schema
from kinmatch.review.store import Store

A, B = "甲市救助站", "乙县救助站"
RESIDENTS = pd.DataFrame([
    # id, station, found_date, found_place
    ("R1", A, "2024-11-04", "安徽省黄山市屯溪区"),
    ("R2", A, "2024-11-10", "浙江省杭州市西湖区"),
    ("R3", B, "2024-12-30", "河南省郑州市二七区"),
    ("R4", B, "2024-10-20", "四川省成都市武侯区"),
    ("R5", A, "2024-11", "广州市"),                      # month only: never "received"
    ("R6", B, "2024-11-15", "陕西省西安市雁塔区"),
    ("R7", None, "2024-12-01", "湖南省长沙市"),
], columns=["resident_id", "station", "found_date", "found_place"])
MISSING = pd.DataFrame([("M1", "安徽省黄山市歙县"), ("M2", "四川省南充市"), ("M4", "河南省周口市太康县"),
                        ("M6", "陕西省宝鸡市")], columns=["missing_id", "hometown"])

EVENTS = [  # resident, event, Beijing-relevant moment, report, detail
    ("R1", "notice_published", "2024-11-05", None, None),
    ("R1", "dna_requested", "2024-11-13", None, None),            # the 7th working day: on time
    ("R1", "confirmed", "2024-11-20", "M1", None),
    ("R1", "second_confirmed", "2024-11-21", "M1", None),
    ("R1", "reunited", "2024-12-02", "M1", None),
    ("R2", "notice_published", "2024-11-11T17:00Z", None, None),  # 12 Nov in Beijing: late
    ("R3", "deadline_done", "2024-12-31", None, {"deadline": "notice"}),
    ("R4", "confirmed", "2024-11-02", "M4", None),
    ("R4", "placed", "2024-12-15", None, None),
    ("R6", "confirmed", "2024-10-30", "M6", None),                 # before the period
    ("R6", "notice_published", "2024-11-16", None, None),
    ("R6", "reunited", "2024-11-20", "M6", None),                  # before its 10th day: no long stay
    ("R6", "deadline_done", "2024-11-26", None, {"deadline": "dna"}),
]
DECISIONS = [("R1", "M1", "same", "2024-11-20"), ("R1", "M1", "unsure", "2024-11-21"),
             ("R2", "M2", "not_same", "2024-12-05"), ("R6", "M6", "same", "2024-10-30")]


@pytest.fixture
def store(tmp_path):
    return _filled(tmp_path / "studio.sqlite")


@pytest.fixture(params=BACKENDS)
def any_store(request, tmp_path):
    url, cleanup = fresh_store_url(request.param, tmp_path)
    opened = _filled(url)
    yield opened
    opened.close()
    cleanup()


def _filled(url) -> Store:
    opened = Store(url)
    opened.load_records(RESIDENTS, MISSING)
    for resident_id, event, when, missing_id, detail in EVENTS:
        opened.add_event(resident_id, event, "clerk", missing_id=missing_id, event_date=pd.Timestamp(when),
                         detail=detail)
    # decisions carry the time they were recorded: written directly to place them in the past
    with opened.engine.begin() as conn:
        for resident_id, missing_id, decision, day in DECISIONS:
            conn.execute(schema.decisions.insert().values(
                resident_id=resident_id, missing_id=missing_id, decision=decision, reviewer="alice",
                decided_at=dt.datetime.fromisoformat(day + "T03:00:00+00:00")))
    return opened


def test_counts_match_the_known_events(any_store):
    counts = campaign_counts(any_store, "2024-11-01", "2024-12-31")
    assert counts.summary == {"received": 5, "notice_on_time": 3, "dna_on_time": 2, "reviewed": 2, "confirmed": 2,
                              "reunited": 2, "long_stay": 3, "placed": 1}
    expected_station = pd.DataFrame.from_dict({
        A: [2, 1, 1, 2, 1, 1, 2, 0],
        B: [2, 2, 1, 0, 1, 1, 0, 1],
        NO_STATION: [1, 0, 0, 0, 0, 0, 1, 0],
    }, orient="index", columns=list(METRICS))
    pd.testing.assert_frame_equal(counts.by_station, expected_station.sort_index(), check_names=False)
    expected_month = pd.DataFrame.from_dict({
        "2024-11": [3, 2, 2, 1, 2, 1, 2, 0],
        "2024-12": [2, 1, 0, 1, 0, 1, 1, 1],
    }, orient="index", columns=list(METRICS))
    pd.testing.assert_frame_equal(counts.by_month, expected_month, check_names=False)
    assert counts.compliance.loc["notice"].tolist() == [3, 1, 1, 0]   # R2 late, R7 never
    assert counts.compliance.loc["dna"].tolist() == [2, 0, 2, 1]      # R3 not yet due at the end
    assert list(counts.compliance.columns) == list(COMPLIANCE)
    detail = counts.residents.set_index("resident_id")
    assert detail.loc["R1", "dna_due"] == dt.date(2024, 11, 13)
    assert detail.loc["R2", "notice_done"] == dt.date(2024, 11, 12)
    assert sorted(zip(counts.flows["resident_id"], counts.flows["missing_id"], strict=True)) == [
        ("R1", "M1"), ("R4", "M4"), ("R6", "M6")]


def test_a_shorter_period_counts_only_its_days(store):
    counts = campaign_counts(store, "2024-12-01", "2024-12-31")
    assert counts.summary["received"] == 2 and counts.summary["confirmed"] == 0
    assert counts.summary["reunited"] == 1 and counts.summary["long_stay"] == 1
    assert list(counts.by_month.index) == ["2024-12"]


def test_a_reversed_period_is_refused_in_chinese(store):
    with pytest.raises(Exception, match="结束日期早于开始日期"):
        campaign_counts(store, "2024-12-31", "2024-11-01")


def test_the_report_is_written_as_html_pdf_and_xlsx(store, tmp_path, capsys):
    from openpyxl import load_workbook

    html, pdf, xlsx = tmp_path / "r.html", tmp_path / "r.pdf", tmp_path / "r.xlsx"
    code = main(["report", "--db", str(tmp_path / "studio.sqlite"), "--from", "2024-11-01", "--to", "2024-12-31",
                 "-o", str(html), "-o", str(pdf), "-o", str(xlsx)])
    assert code == 0
    assert "接收受助人员 5" in capsys.readouterr().out
    page = html.read_text(encoding="utf-8")
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 4
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing fetched from the web
    for heading in ("救助寻亲专项行动统计报告", "按救助站统计", "按月份统计", "时限执行情况", "发现地与来源地"):
        assert heading in page
    assert "<td>甲市救助站</td>" in page
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = text.replace(" ", "")
    assert "救助寻亲专项行动统计报告" in text and "按救助站统计" in text and "乙县救助站" in text
    assert "24小时内发布公告" in text
    workbook = load_workbook(xlsx)
    assert workbook.sheetnames == ["汇总", "按救助站", "按月份", "时限执行", "时限明细", "图表", "说明"]
    summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(min_row=4, values_only=True)}
    assert summary["返乡团聚"] == 2 and summary["落户安置"] == 1
    stations = [row for row in workbook["按救助站"].iter_rows(values_only=True)]
    assert stations[0][0] == "救助站" and stations[-1][0] == "合计" and stations[-1][1] == 5
    assert len(workbook["图表"]._images) == 4


def test_an_unknown_format_is_refused_before_anything_is_written(store, tmp_path, capsys):
    code = main(["report", "--db", str(tmp_path / "studio.sqlite"), "--from", "2024-11-01", "--to", "2024-12-31",
                 "-o", str(tmp_path / "r.html"), "-o", str(tmp_path / "r.docx")])
    assert code == 2 and ".xlsx" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_the_map_places_found_and_home_counties(store):
    from kinmatch.report.charts import place_points

    points = place_points(pd.Series(["安徽省黄山市歙县", "", None]))
    assert 117 < points.loc[0, "lon"] < 119 and 29 < points.loc[0, "lat"] < 31
    assert points.loc[1:].isna().all().all()


def test_an_empty_store_gives_a_report_of_zeros(tmp_path):
    from kinmatch.report.render import write_report

    with Store(tmp_path / "empty.sqlite") as empty:
        counts = campaign_counts(empty, "2024-11-01", "2024-12-31")
    assert set(counts.summary.values()) == {0}
    assert list(counts.by_month.index) == ["2024-11", "2024-12"] and counts.by_station.empty
    for suffix in ("html", "pdf", "xlsx"):
        assert write_report(counts, tmp_path / f"r.{suffix}").stat().st_size > 0
