"""Ranking, explanations, identification potential and the `kinmatch link` command."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from test_candidates import GIVENS, PLACES, SURNAMES, random_reports, report, resident

from kinmatch.cli import main
from kinmatch.match.pipeline import link, run_link
from kinmatch.match.rank import identification_potential, rank_pairs
from kinmatch.match.settings import LinkSettings

WEIGHT_COLUMNS = LinkSettings().weight_columns


def linked_world(n_true=40, n_decoys=600, seed=7):
    """Residents whose true report differs by a homophone or an age error, among random decoys."""
    rng = np.random.default_rng(seed)
    reports = [random_reports(n_decoys, seed=seed)]
    residents, truth = [], []
    for i in range(n_true):
        s, g = SURNAMES[i % len(SURNAMES)], GIVENS[(i * 3) % len(GIVENS)]
        born = int(rng.integers(1940, 2000))
        place = int(rng.integers(len(PLACES)))
        sex = "MF"[i % 2]
        height = float(rng.integers(150, 185))
        reports.append(pd.DataFrame([report(f"T{i:03d}", s, g, sex=sex, born=born, lost="2019-05-01", place=place,
                                            height=height)]))
        keys = (f"{s[1]} {g[1]}",)
        residents.append(resident(f"R{i:03d}", name_keys=keys, surname_keys=(s[1],), given_keys=(g[1],), sex=sex,
                                  born=(born - 4, born + 6), found="2020-02-01", place=place, height=height + 2)
                         | {"name_norm": s[0] + g[0] + ("" if i % 2 else ""), "name_pinyin": keys[0],
                            "name_kind": "full"})
        truth.append((f"R{i:03d}", f"T{i:03d}"))
    return pd.DataFrame(residents), pd.concat(reports, ignore_index=True), truth


@pytest.fixture(scope="module")
def world():
    return linked_world()


@pytest.fixture(scope="module")
def linked(world):
    residents, missing, _ = world
    return run_link(residents, missing, top_k=5, progress=False)


def test_top_k_per_resident_ranks_and_probabilities(linked):
    table = linked.table
    assert list(table.columns[:6]) == ["resident_id", "missing_id", "rank", "match_probability", "match_weight",
                                       "explanation"]
    assert set(WEIGHT_COLUMNS) <= set(table.columns)
    for _, group in table.groupby("resident_id"):
        assert len(group) <= 5
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["match_weight"].is_monotonic_decreasing
        assert group["match_probability"].is_monotonic_decreasing
    assert table["match_probability"].between(0, 1).all()
    assert table["identification_potential"].between(1, 5).all()


def test_true_report_ranks_first_and_explanation_names_the_reason(world, linked):
    _, _, truth = world
    firsts = linked.table[linked.table["rank"] == 1].set_index("resident_id")["missing_id"]
    hits = sum(firsts.get(r) == m for r, m in truth)
    assert hits >= 0.9 * len(truth)
    top = linked.table[linked.table["rank"] == 1].iloc[0]
    assert top["explanation"].startswith("姓名")
    assert "(" in top["explanation"] and "+" in top["explanation"]


def test_weights_sum_to_match_weight(linked):
    table = linked.table
    prior = linked.model.prior_weight_
    assert np.allclose(table[WEIGHT_COLUMNS].sum(axis=1) + prior, table["match_weight"])


def test_by_missing_ranks_residents_per_report(world):
    residents, missing, _ = world
    table = link(residents, missing, top_k=2, by="missing", progress=False)
    assert table.groupby("missing_id").size().max() <= 2
    assert (table.groupby("missing_id")["rank"].min() == 1).all()


def test_saved_model_reused(world, linked, tmp_path):
    residents, missing, _ = world
    path = tmp_path / "model.json"
    linked.model.to_json(path)
    again = link(residents, missing, top_k=5, model=str(path), progress=False)
    pd.testing.assert_frame_equal(again, linked.table)


def test_rank_pairs_orders_and_cuts():
    scored = pd.DataFrame({"resident_id": ["R1"] * 3 + ["R2"] * 2, "missing_id": ["M1", "M2", "M3", "M1", "M4"],
                           "match_weight": [1.0, 5.0, 3.0, -2.0, 4.0]})
    ranked = rank_pairs(scored, top_k=2)
    assert ranked[["resident_id", "missing_id", "rank"]].values.tolist() == [
        ["R1", "M2", 1], ["R1", "M3", 2], ["R2", "M4", 1], ["R2", "M1", 2]]


@pytest.mark.parametrize("weights, prescores, first", [
    ([3.0, 3.0, 3.0], [-4.0, -1.0, -2.5], "M2"),   # a tie: the best-supported candidate first
    ([3.0, 3.0, 2.9], [-4.0, -4.0, 9.0], "M1"),    # not a tie: the weight decides, then the id
    ([1.0, 3.0, 3.0], [np.nan, -6.0, -5.0], "M3"),
])
def test_rank_pairs_breaks_weight_ties_by_prescore(weights, prescores, first):
    scored = pd.DataFrame({"resident_id": "R1", "missing_id": ["M1", "M2", "M3"],
                           "match_weight": weights, "prescore": prescores})
    assert rank_pairs(scored, top_k=3)["missing_id"].iloc[0] == first


@pytest.mark.parametrize("record, score", [
    ({"name_evidence": True, "name_norm": "李伟", "birth_year_low": 1960, "height_cm": 170, "marks": ("痣:脸:左",),
      "accent_provinces": ("510000",)}, 5),
    ({"name_evidence": False, "name_norm": "党新", "birth_year_low": 1960, "height_cm": 170, "marks": (),
      "accent_provinces": ()}, 2),
    ({"name_evidence": False, "name_norm": None, "birth_year_low": None, "height_cm": None, "marks": (),
      "accent_provinces": ()}, 1),
])
def test_identification_potential(record, score):
    assert identification_potential(pd.DataFrame([record | {"resident_id": "R1"}])).iloc[0] == score


def test_bad_inputs_give_readable_errors(world):
    residents, missing, _ = world
    from kinmatch.errors import InputError

    with pytest.raises(InputError, match="top_k"):
        link(residents, missing, top_k=0)
    with pytest.raises(InputError, match="more than once"):
        link(pd.concat([residents, residents.iloc[:1]]), missing)
    with pytest.raises(InputError, match="does not exist"):
        link(residents, missing, model="/nonexistent/model.json")


def test_cli_link_writes_csv_atomically(world, tmp_path, monkeypatch):
    residents, missing, _ = world
    res_path, mis_path = tmp_path / "res.pkl", tmp_path / "mis.pkl"
    residents.to_pickle(res_path)
    missing.to_pickle(mis_path)
    import kinmatch.commands.link as command

    # the command reads files through intake; hand it the normalized fixtures instead
    monkeypatch.setattr(command, "_read_with_issues",
                        lambda path, kind, on_duplicate="stop": (pd.read_pickle(path), pd.DataFrame()))
    out, model_path = tmp_path / "out" / "candidates.csv", tmp_path / "model.json"
    code = main(["link", str(res_path), str(mis_path), "-o", str(out), "--top-k", "3", "--save-model",
                 str(model_path), "--no-progress", "--jobs", "1"])
    assert code == 0
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert written.groupby("resident_id").size().max() <= 3
    assert json.loads(model_path.read_text(encoding="utf-8"))
    assert not [p for p in os.listdir(out.parent) if p.endswith(".part")]
    assert main(["link", str(res_path), str(mis_path), "-o", str(out), "--jobs", "0"]) == 2
    # a failing run leaves the previous file untouched
    before = out.read_bytes()
    code = main(["link", str(res_path), str(mis_path), "-o", str(out), "--model", str(tmp_path / "none.json")])
    assert code == 2
    assert out.read_bytes() == before


def test_cli_link_uses_the_store_model(world, tmp_path, monkeypatch, capsys):
    residents, missing, _ = world
    res_path, mis_path = tmp_path / "res.pkl", tmp_path / "mis.pkl"
    residents.to_pickle(res_path)
    missing.to_pickle(mis_path)
    import kinmatch.commands.link as command
    from kinmatch.review.store import Store

    monkeypatch.setattr(command, "_read_with_issues",
                        lambda path, kind, on_duplicate="stop": (pd.read_pickle(path), pd.DataFrame()))
    model_path, db = tmp_path / "model.json", tmp_path / "cases.db"
    assert main(["link", str(res_path), str(mis_path), "-o", str(tmp_path / "a.csv"), "--save-model",
                 str(model_path), "--no-progress"]) == 0
    with Store(db) as store:
        # no model recorded yet: link fits one and says so
        assert main(["link", str(res_path), str(mis_path), "-o", str(tmp_path / "b.csv"), "--db", str(db),
                     "--no-progress"]) == 0
        assert "no model recorded" in capsys.readouterr().err
        store.set_default_model(model_path, {"roc_auc": 0.9})
    assert main(["link", str(res_path), str(mis_path), "-o", str(tmp_path / "c.csv"), "--db", str(db),
                 "--no-progress"]) == 0
    assert "using the store's current model" in capsys.readouterr().err
    used = pd.read_csv(tmp_path / "c.csv", encoding="utf-8-sig")["model_version"].unique().tolist()
    from kinmatch.match.model import FellegiSunter
    from kinmatch.match.pipeline import model_version
    assert used == [model_version(FellegiSunter.from_json(model_path))]
    # a store path that holds no store is an error, not a new empty store
    assert main(["link", str(res_path), str(mis_path), "-o", str(tmp_path / "d.csv"), "--db",
                 str(tmp_path / "typo.db")]) == 2
    assert not (tmp_path / "typo.db").exists()


def test_show_candidates_colours_agreement_and_conflict(world, linked):
    from kinmatch.match.display import GREEN, CandidateList, show_candidates

    residents, missing, _ = world
    residents = residents.assign(name=residents["name_norm"])
    missing = missing.assign(name=missing["name_norm"])
    styler = show_candidates(linked.table, residents, missing, "R001", top=3)
    page = styler.to_html()
    assert "受助人员 R001" in page and "#1 T001" in page
    assert GREEN.split(": ")[1] in page
    table = styler.data
    assert table.loc["姓名"].iloc[0] == table.loc["姓名"].iloc[1]
    html = CandidateList(linked.table)._repr_html_()
    assert "T001" in html and "%" in html


@pytest.fixture(scope="module")
def simulation():
    from kinmatch.datasets.simulate import simulate

    return simulate(n_missing=2000, n_residents=200, seed=11)


def test_simulated_recall_well_above_exact_name(simulation):
    from kinmatch.match.evaluate import recall_at_k

    run = run_link(simulation.residents, simulation.missing, top_k=10, progress=False)  # canonical frames in
    truth = simulation.truth.astype(str)
    recall = recall_at_k(run.table, truth, ks=(1, 10))
    exact = run.residents[["resident_id", "name"]].dropna().merge(run.missing[["missing_id", "name"]].dropna(),
                                                                  on="name").assign(rank=1)
    exact_recall = recall_at_k(exact, truth, ks=(10,))["recall@10"]
    assert recall["recall@10"] >= exact_recall + 0.3, (recall, exact_recall)
    assert recall["recall@10"] >= 0.8
    # station-assigned names never count as name evidence
    assigned = run.residents.loc[~run.residents["name_evidence"].astype(bool), "resident_id"]
    assert (run.table.loc[run.table["resident_id"].isin(assigned), "w_name"] == 0).all()


def test_cli_link_on_simulated_csv_files(tmp_path):
    from kinmatch.datasets.simulate import simulate

    small = simulate(n_missing=150, n_residents=20, seed=2)
    res_path, mis_path = tmp_path / "受助人员.csv", tmp_path / "寻人启事.csv"
    small.residents.to_csv(res_path, index=False, encoding="gb18030")
    small.missing.to_csv(mis_path, index=False, encoding="utf-8-sig")
    out = tmp_path / "candidates.csv"
    assert main(["link", str(res_path), str(mis_path), "-o", str(out), "--top-k", "5", "--no-progress"]) == 0
    written = pd.read_csv(out, encoding="utf-8-sig", dtype={"resident_id": str, "missing_id": str})
    assert set(written["resident_id"]) <= set(small.residents["resident_id"].astype(str))
    assert written["explanation"].str.len().gt(0).all()
    assert not (tmp_path / "candidates.issues.csv").exists()  # clean files: no issues table


def test_cli_link_writes_the_intake_issues_beside_the_output(tmp_path, capsys):
    from kinmatch.datasets.simulate import simulate

    small = simulate(n_missing=150, n_residents=20, seed=2)
    residents = small.residents.copy()
    residents.loc[residents.index[3], "found_date"] = "2023年13月"
    residents.loc[residents.index[5], "height"] = "很高"
    res_path, mis_path = tmp_path / "受助人员.csv", tmp_path / "寻人启事.csv"
    residents.to_csv(res_path, index=False, encoding="utf-8-sig")
    small.missing.to_csv(mis_path, index=False, encoding="utf-8-sig")
    out = tmp_path / "candidates.csv"
    assert main(["link", str(res_path), str(mis_path), "-o", str(out), "--top-k", "3", "--no-progress"]) == 0
    issues = pd.read_csv(tmp_path / "candidates.issues.csv", encoding="utf-8-sig", dtype=str)
    assert set(issues["reason"]) >= {"bad_date", "bad_height"}
    assert set(issues["file"]) == {"受助人员.csv"}
    assert issues.loc[issues["reason"] == "bad_date", "record_id"].tolist() == [str(residents.iloc[3]["resident_id"])]
    assert "candidates.issues.csv" in capsys.readouterr().err
    # the rows with bad values were kept and linked
    written = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert str(residents.iloc[3]["resident_id"]) in set(written["resident_id"])


def test_no_possible_pair_gives_an_empty_table_with_the_schema_columns():
    # every report went missing years after the only resident was found: no candidate survives
    residents = pd.DataFrame([resident("R1", name_keys=("li wei",), found="2001-01-01")])
    missing = pd.DataFrame([report(f"M{i}", ("李", "li"), ("伟", "wei"), lost="2020-01-01") for i in range(3)])
    table = link(residents, missing, progress=False)
    assert table.empty
    assert list(table.columns[:6]) == ["resident_id", "missing_id", "rank", "match_probability", "match_weight",
                                       "explanation"]


def test_every_row_carries_the_version_of_the_model_that_scored_it(world, linked, tmp_path):
    versions = linked.table["model_version"].unique()
    assert len(versions) == 1 and versions[0].startswith("kinmatch-")
    residents, missing, _ = world
    path = tmp_path / "model.json"
    linked.model.to_json(path)
    again = link(residents, missing, top_k=5, model=str(path), progress=False)
    assert again["model_version"].iloc[0] == versions[0]  # same parameters, same version
    changed = json.loads(path.read_text(encoding="utf-8"))
    changed["lambda"] = changed["lambda"] / 2
    path.write_text(json.dumps(changed), encoding="utf-8")
    assert link(residents, missing, top_k=5, model=str(path), progress=False)["model_version"].iloc[0] != versions[0]


def test_worker_processes_give_the_same_table(world, linked, monkeypatch):
    # candidates generated in a forked worker beside the preparation, comparisons spread over
    # two workers: the ranked table must be the one the single process gives
    import kinmatch.match.engine as batch_module
    import kinmatch.match.pipeline as rank_module

    residents, missing, _ = world
    monkeypatch.setattr(rank_module, "BACKGROUND_MIN_REPORTS", 0)
    monkeypatch.setattr(batch_module, "PARALLEL_MIN_PAIRS", 0)
    monkeypatch.setattr(rank_module, "PARALLEL_MIN_EXPLAINED", 0)
    import kinmatch._parallel as parallel

    forks, real_start, real_call = [], parallel._start_workers, parallel.fork_call
    monkeypatch.setattr(parallel, "_start_workers", lambda func, items, n, workers: forks.append(n)
                        or real_start(func, items, n, workers))
    monkeypatch.setattr(rank_module, "fork_call",
                        lambda *a, **k: forks.append("call" if k.get("enabled", True) else "in-process")
                        or real_call(*a, **k))
    alone = run_link(residents, missing, top_k=5, progress=False, n_jobs=1).table
    assert forks == ["in-process"]
    forks.clear()
    together = run_link(residents, missing, top_k=5, progress=False, n_jobs=2).table
    # the candidates' worker, and the comparisons' worker (candidate and random pairs in one pass, about
    # half each), which goes on to rank and explain the last residents' candidates (no pool after it)
    assert forks == ["call", "call"]
    pd.testing.assert_frame_equal(alone, together)
    pd.testing.assert_frame_equal(alone, linked.table)
