"""The case around a match (issue 15): lifecycle from the event log, second review, deadlines from
the store, derived exclusions, duplicate reports, bulk dismissal, comments and assignments, search
by pinyin surname and place, photos of both sides; in the store and through the site."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pandas as pd
import pytest
from review_fixtures import MISSING, RESIDENTS, candidates_table, levels_table, loaded_store, store, store_url  # noqa: F401

from kinmatch.review.store import Store, StoreError
from kinmatch.review.web import create_app

PASSWORD = "reviewer-pass-1"


def confirmed(store, resident_id="R2", missing_id="M2", first="alice", second="bob"):
    store.decide(resident_id, missing_id, "same", first)
    store.second_confirm(resident_id, missing_id, second)


# ---- the store --------------------------------------------------------------------------------

def test_a_case_walks_from_confirmation_to_reunion(loaded_store):
    store = loaded_store
    assert store.case_state("R2")["stage"] == "open"
    store.decide("R2", "M2", "same", "alice")
    state = store.case_state("R2")
    assert (state["stage"], state["missing_id"], state["confirmed_by"], state["second_confirmed"]) == \
        ("confirmed", "M2", "alice", False)
    with pytest.raises(StoreError, match="另一位审核人"):
        store.second_confirm("R2", "M2", "alice")                # the same account cannot confirm twice
    with pytest.raises(StoreError, match="二次确认"):
        store.advance_case("R2", "dna_requested", "alice")      # no DNA before the second review
    store.second_confirm("R2", "M2", "bob")
    assert store.case_state("R2")["stage"] == "second_confirmed"
    with pytest.raises(StoreError, match="已由 bob 二次确认"):
        store.second_confirm("R2", "M2", "carol")
    with pytest.raises(StoreError, match="申请"):
        store.advance_case("R2", "dna_match", "bob")            # a result needs a request first
    store.advance_case("R2", "dna_requested", "bob", event_date=dt.date(2024, 1, 5), detail={"reference": "L-7"})
    store.advance_case("R2", "dna_match", "bob", event_date=dt.date(2024, 1, 19))
    state = store.case_state("R2")
    assert (state["stage"], state["dna_requested"], state["dna_result"], state["dna_result_date"]) == \
        ("dna_match", dt.date(2024, 1, 5), "match", dt.date(2024, 1, 19))
    assert state["reunited"] is False
    store.advance_case("R2", "reunited", "bob", event_date=dt.date(2024, 2, 1))
    state = store.case_state("R2")
    assert (state["stage"], state["reunited"], state["reunited_date"]) == ("reunited", True, dt.date(2024, 2, 1))
    with pytest.raises(StoreError, match="已返乡"):
        store.advance_case("R2", "placed", "bob")
    assert store.events("R2")["event"].tolist() == ["confirmed", "second_confirmed", "dna_requested", "dna_match",
                                                    "reunited"]


def test_a_dna_exclusion_reopens_the_residents_other_candidates(loaded_store):
    store = loaded_store
    confirmed(store)
    assert ("R2", "M6") not in set(zip(store.queue()["resident_id"], store.queue()["missing_id"], strict=True))
    store.advance_case("R2", "dna_requested", "bob")
    store.advance_case("R2", "dna_no_match", "bob")
    current = store.candidate("R2", "M2")
    assert (current["decision"], current["reason"]) == ("not_same", "DNA排除")
    assert store.case_state("R2")["stage"] == "open"
    assert ("R2", "M6") in set(zip(store.queue()["resident_id"], store.queue()["missing_id"], strict=True))


def test_a_re_decided_pair_needs_its_second_review_again(loaded_store):
    store = loaded_store
    confirmed(store)
    store.decide("R2", "M2", "unsure", "alice")
    store.decide("R2", "M2", "same", "alice")
    assert store.case_state("R2")["second_confirmed"] is False


def test_confirming_one_report_moves_the_others_out_and_back(loaded_store):
    store = loaded_store
    before = set(zip(store.queue()["resident_id"], store.queue()["missing_id"], strict=True))
    assert {("R2", "M2"), ("R2", "M6")} <= before
    store.decide("R2", "M2", "same", "alice")
    after = set(zip(store.queue()["resident_id"], store.queue()["missing_id"], strict=True))
    assert after == before - {("R2", "M2"), ("R2", "M6")}
    excluded = store.derived_exclusions()
    assert excluded.values.tolist() == [["R2", "M6", "M2", "已确认 M2 为同一人"]]
    assert store.candidate("R2", "M6")["decision"] is None        # derived, not a recorded decision
    store.decide("R2", "M2", "unsure", "alice")                   # the confirmation withdrawn
    assert ("R2", "M6") in set(zip(store.queue()["resident_id"], store.queue()["missing_id"], strict=True))
    assert store.derived_exclusions().empty


def test_deadlines_come_from_the_store_and_can_be_marked_done(loaded_store):
    store = loaded_store                           # R1 found 2023-11-05
    today = "2023-11-20"
    table = store.case_deadlines("R1", today=today).set_index("deadline")
    assert table.loc["notice", "status"] == "overdue" and table.loc["dna_request", "status"] == "overdue"
    assert {"R1"} <= set(store.overdue_deadlines(today=today)["resident_id"])
    store.mark_deadline_done("R1", "notice", "alice", event_date=dt.date(2023, 11, 6))
    store.add_event("R1", "dna_requested", "alice", missing_id="M1", event_date=dt.date(2023, 11, 10))
    table = store.case_deadlines("R1", today=today).set_index("deadline")
    assert table.loc["notice", "status"] == "done" and table.loc["dna_request", "status"] == "done"
    overdue = store.overdue_deadlines(today=today)
    assert not ((overdue["resident_id"] == "R1") & overdue["deadline"].isin(["notice", "dna_request"])).any()
    # a refresh is monthly: the next is due a month after the last
    store.add_event("R1", "notice_refreshed", "alice", event_date=dt.date(2023, 12, 4))
    table = store.case_deadlines("R1", today="2023-12-20").set_index("deadline")
    assert table.loc["notice_refresh", "due_date"] == dt.date(2024, 1, 4)
    with pytest.raises(StoreError, match="没有时限事项"):
        store.mark_deadline_done("R1", "lunch", "alice")


def test_a_reunited_residents_deadlines_close(loaded_store):
    store = loaded_store
    confirmed(store, "R1", "M1")
    store.advance_case("R1", "reunited", "bob", event_date=dt.date(2023, 11, 8))
    table = store.case_deadlines("R1", today="2023-12-20")
    assert set(table["status"]) == {"closed"}


def test_placement_only_after_three_months(loaded_store):
    store = loaded_store                           # R6 found 2023-07-09
    with pytest.raises(StoreError, match="三个月"):
        store.advance_case("R6", "placed", "alice", today=dt.date(2023, 9, 1))
    store.advance_case("R6", "placed", "alice", today=dt.date(2023, 10, 20))
    assert store.case_state("R6")["stage"] == "placed"


def test_duplicate_reports_are_grouped_and_bulk_dismiss_counts_first(store):
    same = ("155", "2023-10-21", "黄山", "安徽省黄山市", None, None)
    extra = pd.DataFrame([("M7", "胡春华", None, "女", "1963-05", *same), ("M8", "胡春华", None, "女", "1971", *same)],
                         columns=MISSING.columns)
    pairs = [("R1", "M1", 0.97), ("R1", "M7", 0.96), ("R1", "M8", 0.03), ("R2", "M2", 0.91), ("R2", "M6", 0.04)]
    store.load_candidates(candidates_table(pairs), RESIDENTS, pd.concat([MISSING, extra]), run_id="r",
                          compute_levels=False)
    groups = store.report_groups()
    assert groups["M1"] == groups["M7"] == ["M1", "M7"] and "M8" not in groups   # another birth year
    from kinmatch.review.web.queue import grouped

    rows = grouped(store.queue().to_dict("records"), groups)
    assert [(r["missing_id"], r["duplicates"]) for r in rows if r["resident_id"] == "R1"] == \
        [("M1", ["M7"]), ("M8", [])]
    assert store.dismiss_below(0.05, "alice", dry_run=True) == 2
    assert len(store.history()) == 0                               # counting decides nothing
    assert store.dismiss_below(0.05, "alice") == 2
    current = store.current_decisions()
    assert sorted(current["missing_id"]) == ["M6", "M8"]
    assert set(current["reason"]) == {"批量排除：概率低于 5%"}
    with pytest.raises(StoreError, match="0 与 1"):
        store.dismiss_below(1.5, "alice")


def test_comments_and_assignments(loaded_store):
    store = loaded_store
    store.add_user("rev2", PASSWORD)
    store.comment("R2", "M2", "alice", "  家属说右臂纹身是龙  ")
    with pytest.raises(StoreError, match="备注为空"):
        store.comment("R2", "M2", "alice", "   ")
    events = store.events("R2")
    assert events.iloc[-1]["detail"] == {"text": "家属说右臂纹身是龙"}
    store.assign("R2", "M2", "rev2", "alice")
    assert store.assignments() == {("R2", "M2"): "rev2"}
    store.assign("R2", "M2", "", "alice")
    assert store.assignments() == {}
    with pytest.raises(StoreError, match="没有用户"):
        store.assign("R2", "M2", "nobody", "alice")


def test_search_finds_a_pinyin_surname_and_a_place_but_not_a_contact(store):
    chen = {"resident_id": "R9", "name": "陈建国", "found_place": "上海市虹口区"}
    residents = pd.concat([RESIDENTS, pd.DataFrame([chen])])
    missing = pd.concat([MISSING, pd.DataFrame([{"missing_id": "M9", "name": "刘强", "hometown": "湖北省",
                                                 "contact": "上海市某路1号 13800000009"}])])
    store.load_records(residents, missing)
    found = store.search("chen")
    assert ("resident", "R9") in set(zip(found["kind"], found["record_id"], strict=True))
    found = store.search("上海")
    assert set(zip(found["kind"], found["record_id"], strict=True)) == {("resident", "R9")}
    assert found["place"].tolist() == ["上海市虹口区"]


# ---- explanations -----------------------------------------------------------------------------

def test_a_mild_height_difference_is_never_a_contradiction():
    from kinmatch.match.comparisons.height import HeightComparison
    from kinmatch.match.engine import compare_pairs
    from kinmatch.normalize.records import normalize_missing, normalize_residents
    from kinmatch.review.web.pairs import row_state

    residents, _ = normalize_residents(pd.DataFrame([{"resident_id": "R1", "height": "170cm", "sex": "男",
                                                      "found_date": "2024-01-01"}]))
    missing, _ = normalize_missing(pd.DataFrame([{"missing_id": "M1", "height": "一米七五", "sex": "男",
                                                  "missing_date": "2023-12-01"}]))
    pairs = pd.DataFrame([{"resident_id": "R1", "missing_id": "M1"}])
    level = int(compare_pairs(pairs, residents, missing, [HeightComparison()])["height"].iloc[0])
    assert level >= 0                                             # both heights were read
    height = HeightComparison()
    assert row_state(height, level, -0.4) != "conflict"           # even where the model weighs it against
    assert row_state(height, 0, -3.0) == "conflict"               # 身高不符: a real contradiction
    assert row_state(height, 1, -1.0) == "differ"
    assert row_state(None, None, -5.0) == "differ"                # no level: never 矛盾


# ---- photos in intake and PFIF ----------------------------------------------------------------

def test_reports_read_several_photos_and_pfif_carries_the_first_url():
    from kinmatch.intake import read_missing
    from kinmatch.pfif import export_pfif
    from kinmatch.schema import photo_values

    photos = "M1.jpg；https://example.org/m1.jpg"
    frame = read_missing(pd.DataFrame({"编号": ["M1"], "姓名": ["胡春花"], "相片": [photos]})).frame
    assert photo_values(frame.loc[0, "photo"]) == ["M1.jpg", "https://example.org/m1.jpg"]
    linked = read_missing(pd.DataFrame({"编号": ["M2"], "照片链接": ["a.png、b.png"]})).frame
    assert linked.loc[0, "photo"] == "a.png、b.png"
    xml = export_pfif(missing=frame, domain="kinmatch.example")
    assert re.search(r"<(\w+:)?photo_url>https://example.org/m1.jpg</", xml) and "M1.jpg<" not in xml


# ---- the site ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("case-template") / "cases.db"
    store = Store(path)
    missing = MISSING.assign(photo=["m1.jpg；https://example.org/m1.jpg", None, None, None, None, None])
    store.load_candidates(candidates_table(), RESIDENTS.assign(photo=["r1.jpg"] + RESIDENTS["photo"].tolist()[1:]),
                          missing, run_id="run1", levels=levels_table())
    for name, role in (("admin1", "admin"), ("rev1", "reviewer"), ("rev2", "reviewer")):
        store.add_user(name, PASSWORD, role)
    store.close()
    return path


@pytest.fixture
def site(tmp_path, template_db):
    shutil.copy(template_db, tmp_path / "cases.db")
    store = Store(tmp_path / "cases.db")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "r1.jpg").write_bytes(b"\xff\xd8\xff\xe0 resident")
    (photos / "m1.jpg").write_bytes(b"\xff\xd8\xff\xe0 report")
    app = create_app(store, photo_dir=photos)
    yield app, store
    store.close()


def login(client, username) -> str:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def test_pair_page_shows_both_photos_from_the_photo_folder_only(site):
    app, store = site
    client = app.test_client()
    login(client, "rev1")
    page = client.get("/pair/R1/M1").get_data(as_text=True)
    assert 'id="photos-resident"' in page and 'id="photos-report"' in page
    assert 'src="/photo/resident/R1/0"' in page and 'src="/photo/report/M1/0"' in page
    assert 'href="https://example.org/m1.jpg"' in page                       # a URL is a link, never fetched
    assert client.get("/photo/report/M1/0").get_data() == b"\xff\xd8\xff\xe0 report"
    assert client.get("/photo/report/M1/1").status_code == 404               # the URL is not served
    assert client.get("/photo/report/M1/7").status_code == 404
    assert client.get("/photo/other/M1/0").status_code == 404
    assert "权重，对数似然比" not in page and "各项比对：支持还是反对同一人" in page


def test_second_review_needs_another_account_and_the_case_page_moves_on(site):
    app, store = site
    first, second = app.test_client(), app.test_client()
    token1, token2 = login(first, "rev1"), login(second, "rev2")
    first.post("/pair/R1/M1/decide", data={"decision": "same", "based_on": "", "csrf_token": token1})
    page = first.get("/pair/R1/M1").get_data(as_text=True)
    assert 'id="btn-second"' not in page and "须由另一位审核人二次确认" in page
    first.post("/pair/R1/M1/second", data={"csrf_token": token1})
    assert store.case_state("R1")["second_confirmed"] is False
    assert 'id="btn-second"' in second.get("/pair/R1/M1").get_data(as_text=True)
    response = second.post("/pair/R1/M1/second", data={"csrf_token": token2})
    assert response.headers["Location"] == "/case/R1"
    assert store.case_state("R1")["second_by"] == "rev2"
    for event, day in (("dna_requested", "2023-11-07"), ("dna_match", "2023-11-20"), ("reunited", "2023-11-25")):
        step = {"event": event, "event_date": day, "csrf_token": token2}
        assert second.post("/case/R1/step", data=step).status_code == 302
    page = second.get("/case/R1").get_data(as_text=True)
    assert re.search(r'id="case-stage">([^<]+)<', page).group(1) == "已返乡"
    assert "已撤回" in re.search(r'id="notice-status">([^<]+)<', page).group(1)
    assert store.case_state("R1")["reunited"] is True
    assert ("已返乡" in page and "疑似家乡" in page and 'id="case-candidates"' in page and 'id="deadlines"' in page)
    refused = second.post("/case/R1/step", data={"event": "placed", "csrf_token": token2})
    assert refused.status_code == 302 and store.case_state("R1")["stage"] == "reunited"
    bad = second.post("/case/R1/step", data={"event": "dna_requested", "event_date": "2023-13-01",
                                             "csrf_token": token2})
    assert bad.status_code == 400


def test_start_page_lists_overdue_deadlines_and_they_can_be_marked_done(site):
    app, store = site
    client = app.test_client()
    token = login(client, "rev1")
    page = client.get("/").get_data(as_text=True)
    assert 'id="overdue"' in page                                             # the fixtures' residents are years old
    n = int(re.search(r"逾期时限 (\d+) 项", page).group(1))
    assert n == len(store.overdue_deadlines())
    client.post("/case/R1/done", data={"deadline": "notice", "back": "queue", "csrf_token": token})
    page = client.get("/").get_data(as_text=True)
    assert int(re.search(r"逾期时限 (\d+) 项", page).group(1)) == n - 1


def test_bulk_dismiss_shows_the_count_before_it_acts(site):
    app, store = site
    client = app.test_client()
    token = login(client, "rev1")
    page = client.get("/dismiss?below=10").get_data(as_text=True)
    assert re.search(r'id="dismiss-count">(\d+)<', page).group(1) == "1"
    assert store.history().empty
    client.post("/dismiss", data={"below": "10", "csrf_token": token})
    assert store.current_decisions()[["missing_id", "decision"]].values.tolist() == [["M6", "not_same"]]
    assert client.get("/dismiss?below=abc").status_code == 400


def test_chinese_labels_beijing_time_and_no_search_terms_in_the_log(site):
    app, store = site
    client = app.test_client()
    login(client, "admin1")
    record = client.get("/record/resident/R1").get_data(as_text=True)
    assert "<th>发现地点</th>" in record and "<th>found_place</th>" not in record
    client.get("/search?q=吴春花")
    log = store.access_log("admin1")
    assert "吴春花" not in " ".join(log["detail"].fillna(""))
    page = client.get("/admin/log").get_data(as_text=True)
    assert ">搜索<" in page and ">登录<" in page and "时间（北京时间）" in page
    from kinmatch.review.web.common import beijing

    last = log["at"].iloc[-1]
    assert beijing(last) in page
    assert beijing(dt.datetime(2024, 1, 5, 20, 0)) == "2024-01-06 04:00"


def test_comment_and_assign_on_the_pair_page(site):
    app, store = site
    client = app.test_client()
    token = login(client, "rev1")
    client.post("/pair/R2/M2/comment", data={"text": "右臂纹身需照片核对", "csrf_token": token})
    client.post("/pair/R2/M2/assign", data={"assignee": "rev1", "csrf_token": token})
    page = client.get("/pair/R2/M2").get_data(as_text=True)
    assert "右臂纹身需照片核对" in page and re.search(r'id="assigned-to">当前：rev1<', page)
    mine = client.get("/?mine=1").get_data(as_text=True)
    assert "/pair/R2/M2" in mine and "/pair/R1/M1" not in mine
