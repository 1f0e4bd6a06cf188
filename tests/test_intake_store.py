"""A resident file with NUL bytes in it goes through intake and into a case store, SQLite and
PostgreSQL (which refuses text holding NUL: before issue 17 this was a traceback in review load)."""

import pytest
from review_fixtures import MISSING, RESIDENTS, candidates_table, fresh_store_url, levels_table

from kinmatch.intake import read_missing, read_residents
from kinmatch.review.store import Store


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nul_bytes_never_reach_the_store(tmp_path, backend):
    path = tmp_path / "residents.csv"
    residents = RESIDENTS.copy()
    residents.loc[0, "name"] = "吴\x00春花"
    residents.loc[1, "description"] = "右臂\x00纹身"
    residents["备注"] = ["x\x00y"] + [None] * (len(residents) - 1)  # an unknown column too
    residents.to_csv(path, index=False, encoding="utf-8")
    assert b"\x00" in path.read_bytes()
    frame, issues = read_residents(path)
    assert (issues["reason"] == "nul_removed").sum() == 3
    url, cleanup = fresh_store_url(backend, tmp_path)
    try:
        store = Store(url)
        store.load_candidates(candidates_table(), frame, read_missing(MISSING).frame, run_id="run1",
                              levels=levels_table())
        assert store.counts()["queued"] > 0
        store.close()
    finally:
        cleanup()
