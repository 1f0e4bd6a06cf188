"""Duplicate reports of one person (issue 12 point 4): blocking, report comparisons, clusters, and
the linking table that shows a cluster as one candidate."""

import itertools

import numpy as np
import pandas as pd
import pytest

import kinmatch
from kinmatch.datasets import simulate
from kinmatch.errors import InputError
from kinmatch.match.dedupe import (
    DEDUPE_PASSES,
    DedupeSettings,
    HometownComparison,
    MissingDateComparison,
    MissingPlaceComparison,
    PhoneComparison,
    collapse_table,
    dedupe_reports,
    phone_numbers,
    report_pairs,
)
from kinmatch.match.evaluate import recall_at_k
from kinmatch.match.pipeline import run_link
from kinmatch.match.settings import LinkSettings


@pytest.fixture(scope="module")
def sim():
    return simulate(n_missing=3000, n_residents=1500, seed=5)


@pytest.fixture(scope="module")
def normalized(sim):
    return kinmatch.normalize_missing(sim.missing)[0]


@pytest.fixture(scope="module")
def found(normalized):
    return dedupe_reports(normalized)


# ---------------------------------------------------------------------------------------------
# comparisons


def _levels(comparison, left: dict, right: dict) -> int:
    encoded = comparison.encode(pd.DataFrame([left]), pd.DataFrame([right]))
    return int(comparison.levels(encoded, np.array([0]), np.array([0]))[0])


@pytest.mark.parametrize("left, right, level", [
    (("430000", "430700", "430726"), ("430000", "430700", "430726"), 3),
    (("430000", "430700", "430726"), ("430000", "430700", "430703"), 2),
    (("430000", "430700", "430726"), ("430000", "430100", "430102"), 1),
    (("430000", "430700", "430726"), ("140000", "140200", "140213"), 0),
    (("430000", None, None), ("430000", "430700", "430726"), 1),
    ((None, None, None), ("430000", "430700", "430726"), -1),
])
@pytest.mark.parametrize("comparison", [HometownComparison(), MissingPlaceComparison()])
def test_place_levels(comparison, left, right, level):
    columns = comparison.left_columns
    assert _levels(comparison, dict(zip(columns, left)), dict(zip(columns, right))) == level
    assert _levels(comparison, dict(zip(columns, right)), dict(zip(columns, left))) == level  # symmetric


@pytest.mark.parametrize("left, right, level", [
    ("2010-06-22", "2010-06-22", 3),
    ("2010-06-22", "2010-07-10", 2),
    ("2010-06-22", "2011-01-10", 1),
    ("2010-06-22", "2012-06-22", 0),
    ("2010-06-22", None, -1),
])
def test_missing_date_levels(left, right, level):
    frame = pd.DataFrame({"event_date": pd.to_datetime([left, right])})
    comparison = MissingDateComparison()
    encoded = comparison.encode(frame.iloc[[0]], frame.iloc[[1]])
    assert int(comparison.levels(encoded, np.array([0]), np.array([0]))[0]) == level


def test_phone_levels_and_hotlines():
    contacts = ["杨先生 13900006562", "13900006562", "13800001111", None] + ["志愿者热线 4001234567 13711112222"] * 7
    frame = pd.DataFrame({"contact": contacts})
    comparison = PhoneComparison()
    encoded = comparison.encode(frame, frame)
    levels = comparison.levels(encoded, np.array([0, 0, 0, 4]), np.array([1, 2, 3, 5])).tolist()
    # shared family phone; different phones; a blank contact; a hotline shared by seven reports is no evidence
    assert levels == [1, 0, -1, -1]
    assert phone_numbers(["电话：0731-84561234"]).tolist() == [("073184561234",)]


# ---------------------------------------------------------------------------------------------
# blocking


def _slow_pairs(missing: pd.DataFrame) -> set:
    """The pairs of the name_hometown pass, by a plain loop over every pair of reports."""
    out = set()
    for i, j in itertools.combinations(range(len(missing)), 2):
        a, b = missing.iloc[i], missing.iloc[j]
        if set(a["name_keys"]) & set(b["name_keys"]) and a["home_prefecture"] and \
                a["home_prefecture"] == b["home_prefecture"]:
            out.add((i, j))
    return out


def test_blocking_equals_a_plain_loop(normalized):
    sample = normalized.iloc[:400].reset_index(drop=True)
    pairs, counts = report_pairs(sample, passes=(DEDUPE_PASSES[0],))
    assert set(zip(pairs["i"].tolist(), pairs["j"].tolist())) == _slow_pairs(sample)
    assert (pairs["i"] < pairs["j"]).all() and counts["pairs"].tolist() == [len(pairs)]


def test_large_blocks_are_skipped():
    frame = pd.DataFrame({"missing_id": [f"M{i}" for i in range(12)], "name_keys": [("wang wei",)] * 12,
                          "home_prefecture": ["110100"] * 12})
    pairs, counts = report_pairs(frame, DedupeSettings(max_block_size=10), passes=(DEDUPE_PASSES[0],))
    assert len(pairs) == 0 and counts["blocks_skipped"].tolist() == [1]
    pairs, _ = report_pairs(frame, DedupeSettings(max_block_size=12), passes=(DEDUPE_PASSES[0],))
    assert len(pairs) == 66


# ---------------------------------------------------------------------------------------------
# clusters against the simulator's truth


def _same_person_pairs(sim) -> tuple[set, set]:
    """(true duplicate pairs, reports whose person is known): every report of a resident's person
    is in the truth, so two truth reports are one person exactly when they share the resident."""
    groups = sim.truth.groupby("resident_id")["missing_id"].apply(sorted)
    true_pairs = {pair for ids in groups for pair in itertools.combinations(ids, 2)}
    return true_pairs, set(sim.truth["missing_id"])


def test_clusters_find_the_simulated_duplicates(sim, found):
    true_pairs, known = _same_person_pairs(sim)
    clusters = found.clusters
    assert len(clusters) == len(sim.missing) and clusters["missing_id"].is_unique
    members = clusters[clusters["cluster_size"] > 1].groupby("cluster_id")["missing_id"].apply(sorted)
    predicted = {pair for ids in members for pair in itertools.combinations(ids, 2)}
    judged = {p for p in predicted if p[0] in known or p[1] in known}  # the others' persons are unknown here
    precision = len(judged & true_pairs) / len(judged)
    recall = len(predicted & true_pairs) / len(true_pairs)
    assert precision > 0.97 and recall > 0.97, (precision, recall)


def test_links_explain_and_match_the_clusters(found):
    links = found.links
    assert (links["match_probability"] >= DedupeSettings().threshold).all()
    kept = links[links["kept"]]
    cluster_of = found.clusters.set_index("missing_id")["cluster_id"]
    assert (cluster_of[kept["missing_id_l"]].to_numpy() == cluster_of[kept["missing_id_r"]].to_numpy()).all()
    assert (kept["cluster_id"].to_numpy() == cluster_of[kept["missing_id_l"]].to_numpy()).all()
    assert kept["explanation"].str.contains("姓名").mean() > 0.9
    assert found.clusters["cluster_id"].str.startswith("D-").all()


def test_chains_are_cut_to_the_cap():
    # twelve reports of one name, place and day: one component, more than the cap allows
    n = 12
    frame = pd.DataFrame({"missing_id": [f"M{i:02d}" for i in range(n)], "name": ["舒洋"] * n, "sex": ["男"] * n,
                          "birth_date": ["1950年"] * n, "missing_date": ["2020-03-01"] * n,
                          "hometown": ["湖南省常德市石门县"] * n, "missing_place": ["湖南省常德市石门县"] * n})
    filler = pd.DataFrame({"missing_id": [f"X{i:03d}" for i in range(200)],
                           "name": [f"王{chr(0x4e00 + 37 * i)}{chr(0x4e00 + 11 * i + 5)}" for i in range(200)],
                           "sex": ["女"] * 200, "birth_date": [f"{1940 + i % 50}年" for i in range(200)],
                           "missing_date": [f"20{10 + i % 10}-0{1 + i % 9}-1{i % 10}" for i in range(200)],
                           "hometown": ["北京市海淀区", "四川省成都市武侯区"] * 100})
    missing = kinmatch.normalize_missing(pd.concat([frame, filler], ignore_index=True))[0]
    found = dedupe_reports(missing, DedupeSettings(max_cluster_size=5))
    sizes = found.clusters.set_index("missing_id").loc[frame["missing_id"], "cluster_size"]
    assert sizes.max() <= 5
    assert (~found.links["kept"]).any()
    assert found.links.loc[~found.links["kept"], "cluster_id"].isna().all()


def test_too_few_reports():
    missing = kinmatch.normalize_missing(pd.DataFrame({"missing_id": ["M1"], "name": ["舒洋"]}))[0]
    found = dedupe_reports(missing)
    assert found.clusters[["cluster_id", "cluster_size"]].values.tolist() == [["D-M1", 1]]
    assert found.links.empty


@pytest.mark.parametrize("kwargs, message", [({"threshold": 1.0}, "strictly between 0 and 1"),
                                             ({"max_cluster_size": 1}, "at least 2")])
def test_bad_settings(kwargs, message):
    with pytest.raises(InputError, match=message):
        DedupeSettings(**kwargs)


# ---------------------------------------------------------------------------------------------
# the linking table: one candidate per cluster


SHU_YANG = {"name": "舒洋", "sex": "男", "birth_date": "1968-04-02", "missing_date": "2021-05-03",
            "hometown": "湖南省常德市石门县南北镇", "description": "左手缺小指"}


@pytest.fixture(scope="module")
def three_reports_of_one_person(sim):
    reports = pd.DataFrame([{**SHU_YANG, "missing_id": f"D{k}", "source": source}
                            for k, source in enumerate(["家属", "公安", "宝贝回家"])])
    missing = pd.concat([sim.missing, reports], ignore_index=True)
    resident = pd.DataFrame([{"resident_id": "R-SHU", "name": "舒洋", "sex": "男", "age": "约55岁",
                              "found_date": "2023-09-01", "found_place": "湖南省长沙市", "description": "左手缺小指"}])
    residents = pd.concat([sim.residents.iloc[:30], resident], ignore_index=True)
    return residents, missing


def test_one_person_is_one_candidate(three_reports_of_one_person):
    residents, missing = three_reports_of_one_person
    run = run_link(residents, missing, top_k=10, progress=False, n_jobs=1, dedupe_reports=True)
    rows = run.table[run.table["resident_id"] == "R-SHU"]
    shown = rows[rows["cluster_members"].fillna("").str.contains("D0")]
    assert len(shown) == 1
    assert shown["cluster_members"].item() == "D0;D1;D2" and shown["cluster_id"].item() == "D-D0"
    assert shown["rank"].item() == 1 and rows["rank"].tolist() == list(range(1, len(rows) + 1))
    assert run.table.columns[-3:].tolist() == ["cluster_id", "cluster_members", "cluster_evidence"]
    # no resident shows two reports of one cluster
    clustered = run.table.dropna(subset=["cluster_id"])
    assert not clustered.duplicated(["resident_id", "cluster_id"]).any()
    clustered_run = kinmatch.link_run(residents, missing, progress=False, n_jobs=1, dedupe_reports=True)
    assert clustered_run.report_clusters is not None
    assert kinmatch.link_run(residents, missing, progress=False, n_jobs=1).report_clusters is None  # off by default


def test_switch_off(three_reports_of_one_person):
    residents, missing = three_reports_of_one_person
    table = run_link(residents, missing, top_k=10, progress=False, n_jobs=1, dedupe_reports=False).table
    assert "cluster_id" not in table.columns
    assert set(table.loc[table["resident_id"] == "R-SHU", "missing_id"]) >= {"D0", "D1", "D2"}
    settings = LinkSettings(dedupe_reports=False)
    assert LinkSettings.from_json(settings.to_json()).dedupe_reports is False
    written_before = LinkSettings().to_dict()
    del written_before["dedupe_reports"]  # settings saved before the field existed link as they did
    assert LinkSettings.from_dict(written_before).dedupe_reports is False
    assert LinkSettings.from_json(LinkSettings(dedupe_reports=True).to_json()).dedupe_reports is True


def test_cli_dedupe(tmp_path, three_reports_of_one_person):
    from kinmatch.cli import main

    residents, missing = three_reports_of_one_person
    residents.to_csv(tmp_path / "r.csv", index=False, encoding="utf-8-sig")
    missing.to_csv(tmp_path / "m.csv", index=False, encoding="utf-8-sig")
    for flag, expected in (([], 3), (["--dedupe"], 1)):
        out = tmp_path / f"c{len(flag)}.csv"
        assert main(["link", str(tmp_path / "r.csv"), str(tmp_path / "m.csv"), "-o", str(out), "--no-progress",
                     "--jobs", "1", *flag]) == 0
        table = pd.read_csv(out, dtype=str)
        mine = table[table["resident_id"] == "R-SHU"]
        if flag:
            assert mine["cluster_members"].eq("D0;D1;D2").sum() == expected
        else:
            assert mine["missing_id"].isin(["D0", "D1", "D2"]).sum() == expected
            assert "cluster_members" not in table.columns


def test_recall_counts_any_member(sim):
    table = run_link(sim.residents.iloc[:200], sim.missing, top_k=10, progress=False, n_jobs=1,
                     dedupe_reports=True).table
    truth = sim.truth[sim.truth["resident_id"].isin(table["resident_id"])]
    with_members = recall_at_k(table, truth, ks=(1, 10))
    without = recall_at_k(table.drop(columns=["cluster_members"]), truth, ks=(1, 10))
    assert with_members["recall@10"] >= without["recall@10"]
    # a row whose shown report is not true but a member is: a hit only through the members
    row = table.dropna(subset=["cluster_members"]).iloc[[0]]
    others = [m for m in row["cluster_members"].item().split(";") if m != row["missing_id"].item()]
    fake_truth = pd.DataFrame({"resident_id": row["resident_id"].tolist(), "missing_id": others[:1]})
    assert recall_at_k(row, fake_truth, ks=(10,))["recall@10"] == 1.0
    assert recall_at_k(row.drop(columns=["cluster_members"]), fake_truth, ks=(10,))["recall@10"] == 0.0


def test_collapse_table(found, sim):
    table = run_link(sim.residents.iloc[:100], sim.missing, top_k=10, progress=False, n_jobs=1,
                     dedupe_reports=False).table
    collapsed = collapse_table(table, found)
    assert len(collapsed) <= len(table)
    assert not collapsed.dropna(subset=["cluster_id"]).duplicated(["resident_id", "cluster_id"]).any()
    ranks = collapsed.groupby("resident_id")["rank"].apply(list)
    assert all(r == list(range(1, len(r) + 1)) for r in ranks)
    # the row kept for a cluster is its best-ranked one
    merged = table.assign(cluster_id=collapse_table(table, found, by="missing")["cluster_id"])
    best = merged.dropna(subset=["cluster_id"]).sort_values("rank").drop_duplicates(["resident_id", "cluster_id"])
    assert set(zip(best["resident_id"], best["missing_id"])) <= set(zip(collapsed["resident_id"],
                                                                        collapsed["missing_id"]))


# ---------------------------------------------------------------------------------------------
# the union of a cluster's evidence


def test_fill_from_members_reads_only_blank_comparisons():
    from kinmatch.match import engine
    from kinmatch.match.comparisons.height import HeightComparison
    from kinmatch.match.comparisons.sex import SexComparison
    from kinmatch.match.dedupe import ReportClusters, fill_from_members

    resident = pd.DataFrame({"resident_id": ["R1"], "sex": ["男"], "height": ["170cm"]})
    residents = kinmatch.normalize_residents(resident)[0]
    missing = kinmatch.normalize_missing(pd.DataFrame({
        "missing_id": ["A", "B", "C", "Z"], "sex": [None, "女", "男", "男"],
        "height": [None, "171cm", "150cm", None]}))[0]
    comparisons = [SexComparison(), HeightComparison()]
    encoded = engine.encode(residents, missing, comparisons)
    clusters = ReportClusters(pd.DataFrame({"missing_id": ["A", "B", "C", "Z"], "cluster_id": ["D-A"] * 3 + ["D-Z"],
                                            "cluster_size": [3, 3, 3, 1]}), pd.DataFrame(), None, pd.DataFrame())
    lp, rp = np.array([0, 0, 0]), np.array([0, 2, 3])  # A (blank), C (answers both), Z (no cluster)
    levels = pd.DataFrame(engine.compare_positions(encoded, lp, rp))
    filled, sources = fill_from_members(encoded, clusters, lp, rp, levels)
    # A: sex and height from B, the first member in id order that answers (B's sex disagrees: no cherry-picking)
    assert filled.loc[0, ["sex", "height"]].tolist() == [0, levels_of(encoded, comparisons[1], 0, 1)]
    assert sources[0].tolist() == [1, 1]
    # C answers both itself (its height disagrees; B's would agree, and is not taken); Z has no cluster
    assert filled.loc[1].tolist() == levels.loc[1].tolist() and sources[1].tolist() == [2, 2]
    assert filled.loc[2].tolist() == levels.loc[2].tolist() and sources[2].tolist() == [3, 3]


def levels_of(encoded, comparison, lp: int, rp: int) -> int:
    j = [c.name for c in encoded.comparisons].index(comparison.name)
    return int(comparison.levels(encoded.encodings[j], np.array([lp]), np.array([rp]))[0])


def test_cluster_row_carries_the_members_evidence(sim):
    # the family's report gives no marks; the police report of the same person does
    reports = pd.DataFrame([{**SHU_YANG, "missing_id": "E0", "description": None},
                            {**SHU_YANG, "missing_id": "E1", "birth_date": None, "missing_date": None}])
    resident = pd.DataFrame([{"resident_id": "R-SHU", "name": "舒洋", "sex": "男", "age": "约55岁",
                              "found_date": "2023-09-01", "found_place": "湖南省长沙市", "description": "左手缺小指"}])
    residents = pd.concat([sim.residents.iloc[:30], resident], ignore_index=True)
    missing = pd.concat([sim.missing, reports], ignore_index=True)
    result = kinmatch.link_run(residents, missing, top_k=10, progress=False, n_jobs=1, dedupe_reports=True)
    table = result.candidates
    row = table[(table["resident_id"] == "R-SHU") & (table["cluster_members"] == "E0;E1")]
    assert len(row) == 1
    alone = run_link(residents, missing, top_k=10, progress=False, n_jobs=1, dedupe_reports=False).table
    alone = alone[alone["resident_id"] == "R-SHU"].set_index("missing_id")
    shown = row["missing_id"].item()
    # the row's weight is at least its own report's, and marks and age both weigh in
    assert row["match_weight"].item() > alone.loc[shown, "match_weight"]
    assert row["w_marks"].item() > 0 and row["w_age"].item() != 0
    assert "缺" in row["explanation"].item()
    # the row says which comparisons were read from the other report, and from which
    other = ({"E0", "E1"} - {shown}).pop()
    evidence = dict(part.split("=") for part in row["cluster_evidence"].item().split(";"))
    assert set(evidence.values()) == {other}
    assert ("marks" in evidence) == (shown == "E0") and ("age" in evidence) == (shown == "E1")
    assert table.loc[table["cluster_members"].isna(), "cluster_evidence"].isna().all()
    # the pair view scores the row as the table does
    pair = result.score_pair("R-SHU", shown)
    assert pair.match_weight == pytest.approx(row["match_weight"].item())
    assert pair.explanation == row["explanation"].item()


def test_clusters_are_refused_on_a_dask_cluster(three_reports_of_one_person):
    residents, missing = three_reports_of_one_person
    with pytest.raises(InputError, match="Dask"):  # refused before the client is used
        run_link(residents, missing, progress=False, client=object(), dedupe_reports=True)


def test_regional_names_price_a_name_by_its_share_in_the_hometown_province():
    from kinmatch.match import engine
    from kinmatch.match.comparisons.name import NameComparison
    from kinmatch.match.dedupe import RegionalNameComparison

    # 依明 is common among the Xinjiang reports and absent elsewhere; 王芳 is spread evenly
    rows = [("X%d" % k, "依明", "新疆维吾尔自治区喀什地区疏附县") for k in range(5)]
    rows += [("X%d" % k, "阿依古丽%d" % k, "新疆维吾尔自治区喀什地区疏附县") for k in range(5, 10)]
    rows += [("H%d" % k, "王芳" if k < 2 else "李建%d" % k, "湖南省衡阳市衡南县") for k in range(10)]
    rows += [("G%d" % k, "王芳" if k < 2 else "张伟%d" % k, "广东省广州市天河区") for k in range(10)]
    missing = kinmatch.normalize_missing(pd.DataFrame(rows, columns=["missing_id", "name", "hometown"]))[0]
    left = missing.assign(resident_id=missing["missing_id"])
    ids = missing["missing_id"].tolist()
    lp = np.array([ids.index("X0"), ids.index("H0"), ids.index("H0")])
    rp = np.array([ids.index("X1"), ids.index("H1"), ids.index("G0")])
    plain = engine.compare_positions(engine.encode(left, missing, [NameComparison()]), lp, rp)
    regional = engine.compare_positions(engine.encode(left, missing, [RegionalNameComparison()]), lp, rp)
    assert plain["name"].tolist() == regional["name"].tolist() and min(plain["name"]) >= 4
    # 依明: 5 of 30 reports, 5 of 10 in Xinjiang; 王芳 in Hunan: 2 of 10 there, 4 of 30 in all
    assert plain["tf_name"].tolist() == pytest.approx([5 / 30, 4 / 30, 4 / 30])
    assert regional["tf_name"].tolist() == pytest.approx([5 / 10, 2 / 10, 4 / 30])  # other provinces: the national
