"""Candidate passes: recall of hard true pairs, hard constraints, chunking, caps."""

import numpy as np
import pandas as pd
import pytest

from kinmatch.match.candidates import PASSES, candidate_pairs

SURNAMES = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
            ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou")]
GIVENS = [("伟", "wei"), ("芳", "fang"), ("秀英", "xiu ying"), ("建国", "jian guo"), ("春花", "chun hua"),
          ("军", "jun"), ("丽", "li"), ("强", "qiang"), ("桂兰", "gui lan"), ("明", "ming")]
PLACES = [("510104", 104.08, 30.66), ("330106", 120.13, 30.27), ("370102", 117.0, 36.65),
          ("410105", 113.68, 34.76), ("440106", 113.36, 23.12), ("230102", 126.6, 45.7)]


def _place(code, lon, lat, prefix):
    return {f"{prefix}_county": code, f"{prefix}_prefecture": code[:4] + "00", f"{prefix}_province": code[:2] + "0000",
            f"{prefix}_lon": lon, f"{prefix}_lat": lat}


def report(mid, surname, given, sex="M", born=1960, lost="2020-03-01", place=0, height=170.0, marks=(),
           extra_keys=()):
    name = surname[0] + given[0]
    keys = (f"{surname[1]} {given[1]}",) + tuple(extra_keys)
    row = {"missing_id": mid, "name_norm": name, "name_pinyin": keys[0], "name_keys": keys,
           "surname_keys": (surname[1],), "given_keys": (given[1],), "alias_keys": (), "alias_norm": (),
           "name_kind": "full", "name_evidence": True, "sex_code": sex, "birth_year_low": born,
           "birth_year_high": born, "event_date": pd.Timestamp(lost), "height_cm": height, "marks": tuple(marks),
           "home_dialect_area": None}
    code, lon, lat = PLACES[place]
    row |= _place(code, lon, lat, "missing") | _place(code, lon, lat, "home")
    return row


def resident(rid, name_keys=(), sex="M", born=(1955, 1965), found="2021-06-01", place=0, height=170.0,
             evidence=True, given_keys=(), surname_keys=(), accent=(), marks=()):
    code, lon, lat = PLACES[place]
    return {"resident_id": rid, "name_keys": tuple(name_keys), "given_keys": tuple(given_keys),
            "surname_keys": tuple(surname_keys), "alias_keys": (), "name_evidence": evidence, "sex_code": sex,
            "birth_year_low": born[0], "birth_year_high": born[1], "event_date": pd.Timestamp(found),
            "height_cm": height, "accent_provinces": tuple(accent), "accent_area": None, "statement_places": (),
            "marks": tuple(marks)} | _place(code, lon, lat, "found")


def random_reports(n, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append(report(f"M{i:05d}", SURNAMES[rng.integers(len(SURNAMES))], GIVENS[rng.integers(len(GIVENS))],
                           sex="MF"[rng.integers(2)], born=int(rng.integers(1940, 2010)),
                           lost=str(pd.Timestamp("2010-01-01") + pd.Timedelta(days=int(rng.integers(0, 4000))))[:10],
                           place=int(rng.integers(len(PLACES))), height=float(rng.integers(150, 185))))
    return pd.DataFrame(rows)


def random_residents(n, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        s, g = SURNAMES[rng.integers(len(SURNAMES))], GIVENS[rng.integers(len(GIVENS))]
        year = int(rng.integers(1940, 2010))
        kind = rng.integers(4)
        rows.append(resident(f"R{i:04d}", name_keys=(f"{s[1]} {g[1]}",) if kind < 2 else (),
                             given_keys=(g[1],) if kind == 2 else (), surname_keys=(s[1],) if kind < 2 else (),
                             sex="MF"[rng.integers(2)], born=(year - 5, year + 5),
                             found=str(pd.Timestamp("2012-01-01") + pd.Timedelta(days=int(rng.integers(0, 4000))))[:10],
                             place=int(rng.integers(len(PLACES))), evidence=kind != 3,
                             accent=(PLACES[rng.integers(len(PLACES))][0][:2] + "0000",)))
    return pd.DataFrame(rows)


def pair_set(result):
    return set(zip(result.pairs["resident_id"], result.pairs["missing_id"]))


def test_dialect_merged_name_alone_survives_among_many_decoys():
    # 胡春花 reported lost in Huangshan-like place 3; the resident said "吴春花" (h→w), was judged 20
    # years younger and found far away: only the dialect-merged name sound links them.
    missing = pd.concat([random_reports(3000), pd.DataFrame([report("TRUE", ("胡", "hu"), ("春花", "chun hua"),
                                                                    sex="F", born=1950, place=3)])])
    residents = pd.DataFrame([resident("R1", name_keys=("wu chun hua", "hu chun hua"), sex="F", born=(1968, 1975),
                                       place=5, height=None)])
    result = candidate_pairs(residents, missing, progress=False)
    passes = result.pairs.set_index("missing_id")["passes"]
    assert "TRUE" in passes.index
    assert "name_sound" in passes["TRUE"]


@pytest.mark.parametrize("found, lost, kept", [
    ("2021-06-01", "2020-03-01", True),    # found after missing
    ("2020-02-15", "2020-03-01", True),    # 15 days before: a date error, kept
    ("2019-06-01", "2020-03-01", False),   # found before the person went missing: impossible
    (None, "2020-03-01", True),            # unknown found date: kept
])
def test_date_constraint(found, lost, kept):
    missing = pd.DataFrame([report("M1", ("李", "li"), ("伟", "wei"), lost=lost)])
    residents = pd.DataFrame([resident("R1", name_keys=("li wei",), found=found)])
    result = candidate_pairs(residents, missing, progress=False)
    assert (("R1", "M1") in pair_set(result)) is kept
    removed = result.counts.set_index("pass").loc["name_sound", "removed_by_constraints"]
    assert removed == (0 if kept else 1)


@pytest.mark.parametrize("sex_r, sex_m, kept", [("M", "M", True), ("M", "F", False), (None, "F", True),
                                                ("F", None, True)])
def test_sex_constraint(sex_r, sex_m, kept):
    missing = pd.DataFrame([report("M1", ("李", "li"), ("伟", "wei"), sex=sex_m)])
    residents = pd.DataFrame([resident("R1", name_keys=("li wei",), sex=sex_r)])
    assert (("R1", "M1") in pair_set(candidate_pairs(residents, missing, progress=False))) is kept


def test_assigned_name_proposes_nothing_by_name():
    missing = pd.DataFrame([report("M1", ("党", "dang"), ("新", "xin"), place=1)])
    residents = pd.DataFrame([resident("R1", name_keys=("dang xin",), evidence=False, place=5)])
    result = candidate_pairs(residents, missing, progress=False, few_candidates=0)
    counts = result.counts.set_index("pass")
    assert counts.loc["name_sound", "proposed"] == 0


def test_chunked_equals_unchunked():
    missing, residents = random_reports(800), random_residents(60)
    small = candidate_pairs(residents, missing, progress=False, chunk_size=7, max_pairs_in_memory=500)
    whole = candidate_pairs(residents, missing, progress=False, chunk_size=1000)
    pd.testing.assert_frame_equal(small.pairs, whole.pairs)
    pd.testing.assert_frame_equal(small.counts, whole.counts)


def test_caps_are_respected_and_counted():
    missing, residents = random_reports(1500), random_residents(40)
    result = candidate_pairs(residents, missing, progress=False, max_per_resident=25, caps={"place": 5},
                             nameless_place_factor=2)
    per_resident = result.pairs.groupby("resident_id").size()
    assert per_resident.max() <= 25
    counts = result.counts.set_index("pass")
    assert counts.loc["union", "capped"] > 0
    nameless = int((~residents["name_evidence"]).sum())
    assert 0 < nameless < len(residents)
    assert counts.loc["place", "kept"] <= 5 * (len(residents) - nameless) + 10 * nameless
    assert counts.loc["place", "kept"] > 5 * len(residents)  # the nameless residents' larger share is used
    assert counts.loc["place", "capped"] == counts.loc["place", "proposed"] - counts.loc["place", "removed_by_constraints"] - counts.loc["place", "kept"]
    assert set(result.counts["pass"]) == set(PASSES) | {"union"}
    assert not result.pairs.duplicated(["resident_id", "missing_id"]).any()


def test_hometown_and_place_passes_find_nameless_resident():
    # a resident with no usable name, a Sichuan accent, found in Hangzhou
    missing = pd.concat([random_reports(500, seed=3),
                         pd.DataFrame([report("HOME", ("刘", "liu"), ("军", "jun"), born=1962, place=0),
                                       report("NEAR", ("赵", "zhao"), ("强", "qiang"), born=1958, place=1)])])
    residents = pd.DataFrame([resident("R1", evidence=False, accent=("510000",), place=1)])
    passes = candidate_pairs(residents, missing, progress=False).pairs.set_index("missing_id")["passes"]
    assert "hometown" in passes["HOME"]
    assert "place" in passes["NEAR"]


@pytest.mark.parametrize("resident_name, resident_keys, given_keys, report_name, report_given, expected_pass", [
    ("李丹玲", ("li dan ling",), ("dan ling",), ("李", "li"), ("桂玲", "gui ling"), "one_char"),
    ("阿英", ("a ying",), ("ying",), ("陈", "chen"), ("秀英", "xiu ying"), "given_sound"),
    ("明廷", ("ming ting",), ("ting",), ("陈", "chen"), ("明廷", "ming ting"), "given_sound"),
    ("老薛", ("lao xue",), ("xue",), ("薛", "xue"), ("宇宏", "yu hong"), "prefixed_surname"),
])
def test_partial_and_one_char_names_find_their_report(resident_name, resident_keys, given_keys, report_name,
                                                      report_given, expected_pass):
    # found far from where the person was lost, so only the name passes can link them
    missing = pd.concat([random_reports(800, seed=5),
                         pd.DataFrame([report("TRUE", report_name, report_given, sex="F", born=1987, place=2)])])
    missing.loc[missing["missing_id"] == "TRUE", "name_norm"] = report_name[0] + report_given[0]
    residents = pd.DataFrame([resident("R1", name_keys=resident_keys, given_keys=given_keys, sex="F",
                                       born=(1983, 1992), place=5) | {"name_norm": resident_name}])
    passes = candidate_pairs(residents, missing, progress=False).pairs.set_index("missing_id")["passes"]
    assert expected_pass in passes.get("TRUE", "")


@pytest.mark.parametrize("resident_marks, report_marks, found", [
    (("疤痕:额头:", "胎记:脸:左"), ("疤痕:额头:", "胎记:脸:左"), True),
    (("疤痕:额头:", "胎记:脸:左", "痣:嘴:右"), ("胎记:脸:右", "疤痕:额头:"), True),   # mirrored side, one new mark
    (("疤痕:额头:",), ("疤痕:额头:", "胎记:脸:左"), False),                          # one common mark is not enough
    (("疤痕:额头:", "痣:颈:左"), ("疤痕:额头:", "胎记:脸:左"), False),
])
def test_mark_pairs_find_nameless_resident_found_far_away(resident_marks, report_marks, found):
    # every decoy shares both common marks but is of the other sex or far off in age
    decoys = random_reports(600, seed=4)
    common = ("疤痕:额头:", "胎记:脸:左", "痣:颈:左")
    decoys["marks"] = [common if i % 2 else common[:1] for i in range(len(decoys))]
    missing = pd.concat([decoys, pd.DataFrame([report("TRUE", ("赵", "zhao"), ("强", "qiang"), sex="F", born=1950,
                                                      place=2, marks=report_marks)])])
    missing.loc[missing["missing_id"] != "TRUE", "sex_code"] = "M"
    residents = pd.DataFrame([resident("R1", evidence=False, sex="F", born=(1945, 1956), place=5,
                                       marks=resident_marks)])
    passes = candidate_pairs(residents, missing, progress=False).pairs.set_index("missing_id")["passes"]
    assert ("mark_pairs" in passes.get("TRUE", "")) is found


def test_one_shared_common_mark_keeps_far_nameless_resident():
    # nameless, no accent, found 1,500 km from where she was lost: only the shared 痣:额头 remains
    decoys = random_reports(600, seed=6)
    decoys["marks"] = [("疤痕:腿:左",) if i % 3 else ("痣:额头:",) for i in range(len(decoys))]
    missing = pd.concat([decoys, pd.DataFrame([report("TRUE", ("赵", "zhao"), ("强", "qiang"), sex="F", born=1950,
                                                      place=5, marks=("痣:额头:",))])])
    residents = pd.DataFrame([resident("R1", evidence=False, sex="F", born=(1945, 1956), place=4,
                                       marks=("痣:额头:",))])
    passes = candidate_pairs(residents, missing, progress=False).pairs.set_index("missing_id")["passes"]
    assert "marks" in passes.get("TRUE", "")
    # every pair the marks pass kept shares the mark
    marked = set(missing.loc[missing["marks"].map(lambda m: "痣:额头:" in m), "missing_id"])
    assert {mid for mid, p in passes.items() if p == "marks"} <= marked
