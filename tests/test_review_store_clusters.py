"""The case store shows one person: a pair linked with duplicate reports clustered
(``kinmatch link --dedupe``) keeps its cluster's member reports, the queue folds a resident's
rows of one person into one, the review page lists the members and shows the values read from
them, and migrations 0008 and 0009 add the columns to an existing store (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
from review_fixtures import (  # noqa: F401 - fixtures are used by name
    MISSING,
    RESIDENTS,
    candidates_table,
    levels_table,
    store,
    store_url,
)

from kinmatch.review.store import Store

PASSWORD = "reviewer-pass-1"
EXTRA = pd.DataFrame([("M7", "胡春花", None, "女", "1963", None, "2023-10-21", "安徽省黄山市", "安徽省黄山市歙县",
                       "左脸有痣", None)], columns=MISSING.columns)


def _clustered(pairs) -> pd.DataFrame:
    """A linking table of ``pairs`` with the cluster columns: M1 and M7 are one person."""
    table = candidates_table(pairs)
    one = table["missing_id"].isin(["M1", "M7"])
    return table.assign(cluster_id=[("D-M1" if x else None) for x in one],
                        cluster_members=[("M1;M7" if x else None) for x in one])


def test_a_clustered_pair_keeps_its_members(store):
    store.load_candidates(_clustered([("R1", "M1", 0.97), ("R2", "M2", 0.91)]), RESIDENTS,
                          pd.concat([MISSING, EXTRA]), run_id="dedupe", compute_levels=False)
    pair = store.candidate("R1", "M1")
    assert pair["cluster_id"] == "D-M1" and pair["cluster_members"] == "M1;M7" and pair["members"] == ["M7"]
    assert store.candidate("R2", "M2")["members"] == [] and store.candidate("R2", "M2")["cluster_id"] is None
    assert store.report_clusters() == {"M1": ["M1", "M7"], "M7": ["M1", "M7"]}
    queued = store.queue()
    assert queued.set_index("missing_id").loc["M1", "cluster_members"] == "M1;M7"
    assert pd.isna(queued.set_index("missing_id").loc["M2", "cluster_members"])
    # a later run without clusters shows the pair as one report again
    store.load_candidates(candidates_table([("R1", "M1", 0.95)]), run_id="plain", compute_levels=False)
    assert store.candidate("R1", "M1")["members"] == [] and store.report_clusters() == {}


def _marks_from_m7() -> tuple[pd.DataFrame, pd.DataFrame]:
    """M1 without a description and M7, the same person, with one: the run read marks from M7."""
    missing = pd.concat([MISSING.assign(description=MISSING["description"].where(MISSING["missing_id"] != "M1")),
                         EXTRA], ignore_index=True)
    table = _clustered([("R1", "M1", 0.97), ("R2", "M2", 0.91)])
    table["cluster_evidence"] = [("marks=M7" if m == "M1" else None) for m in table["missing_id"]]
    return table, missing


def test_a_clustered_pair_keeps_the_levels_it_read_from_a_member(store):
    from kinmatch.review.store import _comparison_levels

    table, missing = _marks_from_m7()
    store.load_candidates(table, RESIDENTS, missing, run_id="dedupe")
    pair = store.candidate("R1", "M1")
    assert pair["evidence"] == {"marks": "M7"}
    assert store.candidate("R2", "M2")["evidence"] == {}
    alone = _comparison_levels(pd.DataFrame({"resident_id": ["R1", "R1"], "missing_id": ["M1", "M7"]}),
                               RESIDENTS, missing)
    assert alone.loc[("R1", "M1"), "marks"] == -1 and alone.loc[("R1", "M7"), "marks"] > 0
    assert pair["levels"]["marks"] == alone.loc[("R1", "M7"), "marks"]  # as the run scored the pair
    assert pair["levels"]["age"] == alone.loc[("R1", "M1"), "age"]  # the rest from the pair's own report
    # evidence naming a report outside the pair's cluster is not shown as the person's
    table["cluster_evidence"] = [("marks=M2" if m == "M1" else None) for m in table["missing_id"]]
    store.load_candidates(table, RESIDENTS, missing, run_id="again")
    assert store.candidate("R1", "M1")["evidence"] == {}
    assert store.candidate("R1", "M1")["levels"]["marks"] == -1  # nor are its levels read from it


def test_the_queue_folds_an_older_runs_rows_of_one_person(store):
    from kinmatch.review.web.queue import grouped

    # an older run without clusters proposed M1 and M7 to R1 as two rows; today's run, one row
    store.load_candidates(candidates_table([("R1", "M1", 0.97), ("R1", "M7", 0.96), ("R2", "M2", 0.91)]),
                          RESIDENTS, pd.concat([MISSING, EXTRA]), run_id="old", compute_levels=False)
    store.load_candidates(_clustered([("R1", "M1", 0.98)]), run_id="new", compute_levels=False)
    rows = grouped(store.queue().to_dict("records"), {**store.report_groups(), **store.report_clusters()})
    mine = [(r["missing_id"], r["members"], r["duplicates"]) for r in rows if r["resident_id"] == "R1"]
    assert mine == [("M1", ["M7"], [])]  # one person: M7 is a member, not listed again as a duplicate


def test_migration_0008_adds_the_columns_to_an_existing_store(store_url):
    old = Store(store_url, upgrade=False)
    old.upgrade("0007")
    old.load_candidates(_clustered([("R1", "M1", 0.97)]), RESIDENTS, pd.concat([MISSING, EXTRA]), run_id="old",
                        levels=levels_table([("R1", "M1", 0.97)]))  # the columns are not there yet: ignored
    assert old.candidate("R1", "M1")["members"] == [] and old.report_clusters() == {}
    assert old.queue()["cluster_members"].isna().all()
    old.decide("R1", "M1", "unsure", "alice")
    old.close()
    new = Store(store_url)
    assert new.revision() == "0009"
    assert new.candidate("R1", "M1")["cluster_members"] is None  # kept empty until a run brings them
    new.load_candidates(_clustered([("R1", "M1", 0.97)]), run_id="again", compute_levels=False)
    assert new.candidate("R1", "M1")["members"] == ["M7"]
    assert new.current_decisions()["decision"].tolist() == ["unsure"]
    new.close()


@pytest.fixture
def site(tmp_path):
    from kinmatch.review.web import create_app

    store = Store(tmp_path / "cases.db")
    store.load_candidates(_clustered([("R1", "M1", 0.97), ("R2", "M2", 0.91)]), RESIDENTS,
                          pd.concat([MISSING, EXTRA]), run_id="dedupe", compute_levels=False)
    store.add_user("rev1", PASSWORD, "reviewer")
    photos = tmp_path / "photos"
    photos.mkdir()
    app = create_app(store, photo_dir=photos)
    app.config["TESTING"] = True
    yield app
    store.close()
    shutil.rmtree(photos)


def _logged_in(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "rev1", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


def test_the_pages_show_the_members(site):
    client = _logged_in(site)
    page = client.get("/pair/R1/M1").get_data(as_text=True)
    assert 'id="cluster-members"' in page and "同一人的 2 份寻人信息" in page
    assert "/record/report/M7" in page
    assert 'id="cluster-members"' not in client.get("/pair/R2/M2").get_data(as_text=True)
    queue = client.get("/").get_data(as_text=True)
    assert "同一人共 2 份寻人信息，另有 M7" in queue


def test_the_pair_page_shows_the_value_read_from_a_member(tmp_path):
    from kinmatch.review.web import create_app

    table, missing = _marks_from_m7()
    store = Store(tmp_path / "cases.db")
    store.load_candidates(table, RESIDENTS, missing, run_id="dedupe")
    store.add_user("rev1", PASSWORD, "reviewer")
    app = create_app(store, photo_dir=tmp_path)
    app.config["TESTING"] = True
    page = _logged_in(app).get("/pair/R1/M1").get_data(as_text=True)
    row = re.search(r"<tr[^>]*><th>体貌特征.*?</tr>", page, re.S)
    assert row is not None, page
    assert "左脸有痣" in row.group(0) and "取自同一人的另一份寻人信息" in row.group(0) and "M7" in row.group(0)
    assert page.count("取自同一人的另一份寻人信息") == 1  # only the comparison read from M7
    store.close()
