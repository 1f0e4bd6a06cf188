"""Candidate passes: recall of hard true pairs, hard constraints, chunking, caps."""

import numpy as np
import pandas as pd
import pytest

from kinmatch.match.candidates import PASSES, CandidateSettings, candidate_pairs

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
    return set(zip(result.pairs["resident_id"], result.pairs["missing_id"], strict=True))


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
    # a pass without any_sex (given_sound: the given name alone) never proposes a sex mismatch
    missing = pd.DataFrame([report("M1", ("李", "li"), ("伟", "wei"), sex=sex_m)])
    residents = pd.DataFrame([resident("R1", given_keys=("wei",), sex=sex_r)])
    assert (("R1", "M1") in pair_set(candidate_pairs(residents, missing, progress=False))) is kept


def test_the_whole_name_sound_proposes_a_pair_whose_recorded_sex_differs():
    missing = pd.DataFrame([report("M1", ("李", "li"), ("伟", "wei"), sex="F")])
    residents = pd.DataFrame([resident("R1", name_keys=("li wei",), sex="M")])
    result = candidate_pairs(residents, missing, progress=False)
    assert ("R1", "M1") in pair_set(result)
    assert result.pairs["passes"].tolist() == ["name_sound"]
    # as a pass without any_sex it would be excluded
    walled = CandidateSettings().with_pass("name_sound", any_sex=False)
    assert ("R1", "M1") not in pair_set(candidate_pairs(residents, missing, walled, progress=False))


def test_a_sex_mismatch_fills_the_cap_only_after_every_pair_whose_sexes_agree():
    # five reports share the name sound; the true one's sex was recorded wrongly and it is the
    # nearest in age and place, yet a cap of four shared by both sexes keeps the four of the same sex
    missing = pd.DataFrame([report(f"M{i}", ("李", "li"), ("伟", "wei"), sex="F" if i == 0 else "M",
                                   born=1960 if i == 0 else 1930 + i, place=0 if i == 0 else 5) for i in range(5)])
    residents = pd.DataFrame([resident("R1", name_keys=("li wei",), sex="M", born=(1958, 1962))])
    settings = CandidateSettings().with_pass("name_sound", cap=4, other_sex_cap=None)
    kept = pair_set(candidate_pairs(residents, missing, settings, progress=False))
    assert ("R1", "M0") not in kept and len(kept) == 4
    settings = CandidateSettings().with_pass("name_sound", cap=5, other_sex_cap=None)
    assert ("R1", "M0") in pair_set(candidate_pairs(residents, missing, settings, progress=False))


@pytest.mark.parametrize("cap, other_sex_cap, kept", [(4, 1, 5), (2, 1, 3), (4, 0, 4), (0, 1, 1)])
def test_other_sex_cap_keeps_pairs_of_the_other_sex_apart(cap, other_sex_cap, kept):
    # four reports of the resident's sex and two of the other share the name sound: each sex has its
    # own cap, and of the other sex the one nearest in age is kept first
    missing = pd.DataFrame([report(f"M{i}", ("李", "li"), ("伟", "wei"), sex="M", born=1930 + i, place=5)
                            for i in range(4)]
                           + [report("F0", ("李", "li"), ("伟", "wei"), sex="F", born=1960, place=0),
                              report("F1", ("李", "li"), ("伟", "wei"), sex="F", born=1900, place=5)])
    residents = pd.DataFrame([resident("R1", name_keys=("li wei",), sex="M", born=(1958, 1962))])
    settings = CandidateSettings().with_pass("name_sound", cap=cap, other_sex_cap=other_sex_cap)
    pairs = pair_set(candidate_pairs(residents, missing, settings, progress=False))
    assert len(pairs) == kept
    assert (("R1", "F0") in pairs) == (other_sex_cap > 0) and ("R1", "F1") not in pairs
    assert sum(m.startswith("M") for _, m in pairs) == min(cap, 4)


def test_any_sex_is_refused_on_a_pass_with_a_year_window():
    from kinmatch.match.passes import CandidatePass

    with pytest.raises(ValueError, match="any_sex needs year_window None"):
        CandidatePass("marks_any_sex", "marks", "marks", cap=10, year_window=10.0, any_sex=True)


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
    settings = cand.CandidateSettings().with_pass("place", cap=5, nameless_factor=2)
    result = candidate_pairs(residents, missing, settings, progress=False, max_per_resident=25,
                             nameless_max_per_resident=40)
    per_resident = result.pairs.groupby("resident_id").size()
    named = residents.set_index("resident_id")["name_evidence"].reindex(per_resident.index)
    assert per_resident[named].max() <= 25
    assert per_resident[~named].max() <= 40
    assert per_resident[~named].max() > 25  # nameless residents use their larger room
    counts = result.counts.set_index("pass")
    assert counts.loc["union", "capped"] > 0
    nameless = int((~residents["name_evidence"]).sum())
    assert 0 < nameless < len(residents)
    assert counts.loc["place", "kept"] <= 5 * (len(residents) - nameless) + 10 * nameless
    assert counts.loc["place", "kept"] > 5 * len(residents)  # the nameless residents' larger share is used
    place = counts.loc["place"]
    assert place["capped"] == place["proposed"] - place["removed_by_constraints"] - place["kept"]
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


# ---------------------------------------------------------------------------------------------
# the vectorized passes against a plain reference: every pass's pairs from its definition, one
# resident and one report at a time (caps lifted so every qualifying pair must come out)

import math  # noqa: E402
from dataclasses import replace  # noqa: E402

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kinmatch.match import candidates as cand  # noqa: E402

MESSY_SURNAMES = [("薛", ("xue",)), ("李", ("li",)), ("胡", ("hu", "fu")), ("吴", ("wu",)), ("单", ("shan", "dan"))]
MESSY_GIVENS = [("春花", "chun hua"), ("秀英", "xiu ying"), ("英", "ying"), ("军", "jun"), ("桂玲", "gui ling"),
                ("丹玲", "dan ling")]
MESSY_MARKS = ["痣:脸:左", "痣:脸:右", "疤痕:额头:", "胎记:背:", "缺指:手:左:小指", "纹身:臂:右:龙", "聋哑", "无纹身"]
MESSY_PLACES = [("510104", 104.08, 30.66, "SW_Man"), ("510681", 104.4, 31.12, "SW_Man"),
                ("330106", 120.13, 30.27, "Wu"), ("340102", 117.28, 31.86, "JH_Man"),
                ("440106", 113.36, 23.12, "Yue"), ("230102", 126.6, 45.7, "N_Man")]


def _messy_place(rng, prefix):
    if rng.random() < 0.1:
        return {f"{prefix}_county": None, f"{prefix}_prefecture": None, f"{prefix}_province": None,
                f"{prefix}_lon": np.nan, f"{prefix}_lat": np.nan}
    code, lon, lat, _ = MESSY_PLACES[rng.integers(len(MESSY_PLACES))]
    return {f"{prefix}_county": code, f"{prefix}_prefecture": code[:4] + "00" if rng.random() < 0.8 else None,
            f"{prefix}_province": code[:2] + "0000", f"{prefix}_lon": lon + rng.normal(0, 0.3),
            f"{prefix}_lat": lat + rng.normal(0, 0.3)}


def _messy_person(rng):
    surname, surname_keys = MESSY_SURNAMES[rng.integers(len(MESSY_SURNAMES))]
    given, given_key = MESSY_GIVENS[rng.integers(len(MESSY_GIVENS))]
    born = int(rng.integers(1940, 2010))
    kind = rng.integers(4)
    years = ((born, born) if kind == 0 else (born - 3, born + 3) if kind == 1 else (born - 10, born + 10)
             if kind == 2 else (np.nan, np.nan))
    marks = tuple(dict.fromkeys(MESSY_MARKS[i] for i in rng.integers(len(MESSY_MARKS), size=rng.integers(4))))
    return {"name_norm": surname + given, "name_keys": tuple(f"{s} {given_key}" for s in surname_keys),
            "surname_keys": surname_keys, "given_keys": (given_key,),
            "alias_keys": ("xiao jun",) if rng.random() < 0.1 else (),
            "sex_code": ["M", "F", None][rng.integers(3)], "birth_year_low": years[0], "birth_year_high": years[1],
            "event_date": (pd.Timestamp("2012-01-01") + pd.Timedelta(days=int(rng.integers(0, 3000))))
            if rng.random() < 0.9 else None,
            "height_cm": float(rng.integers(150, 185)) if rng.random() < 0.8 else np.nan, "marks": marks,
            "conditions": ("聋哑",) if "聋哑" in marks else ()}


def messy_tables(seed, n_residents=40, n_reports=300):
    """Small residents and reports tables with blanks, aliases, wide and unknown ages, marks,
    conditions, accents and statements, so that every pass proposes something."""
    rng = np.random.default_rng(seed)
    reports = []
    for i in range(n_reports):
        row = _messy_person(rng) | {"missing_id": f"M{i:04d}"}
        row |= _messy_place(rng, "missing") | _messy_place(rng, "home")
        code = row["home_county"]
        row["home_dialect_area"] = next((a for c, *_, a in MESSY_PLACES if c == code), None)
        reports.append(row)
    residents = []
    for i in range(n_residents):
        row = _messy_person(rng) | {"resident_id": f"R{i:03d}"}
        row["name_evidence"] = [True, True, False, None][rng.integers(4)]
        if rng.random() < 0.15:  # 老薛: a prefix and the surname's sound as a given syllable
            row |= {"name_norm": "老" + row["name_norm"][0], "given_keys": row["surname_keys"][:1],
                    "name_keys": tuple(f"lao {k}" for k in row["surname_keys"])}
        row |= _messy_place(rng, "found")
        place = MESSY_PLACES[rng.integers(len(MESSY_PLACES))]
        row["accent_provinces"] = (place[0][:2] + "0000",) if rng.random() < 0.4 else ()
        row["accent_area"] = place[3] if rng.random() < 0.5 else None
        row["statement_places"] = (MESSY_PLACES[rng.integers(len(MESSY_PLACES))][0],) if rng.random() < 0.3 else ()
        residents.append(row)
    # clothes from a stream of their own (the other columns stay what they were before clothes were added)
    clothes = np.random.default_rng(seed + 1000)
    for row in reports + residents:
        row["clothing_items"] = tuple(dict.fromkeys(MESSY_CLOTHES[i] for i in clothes.integers(len(MESSY_CLOTHES),
                                                                                               size=clothes.integers(3))))
    return pd.DataFrame(residents), pd.DataFrame(reports)


MESSY_CLOTHES = ("红:棉袄", "咖啡色:棉袄", "黑:布鞋", ":解放鞋")


def _keys(*cells):
    """One record's keys over several cells, blanks dropped, each once (the per-record definition)."""
    out = []
    for cell in cells:
        items = [cell] if isinstance(cell, str) else [] if cell is None or isinstance(cell, float) else list(cell)
        out += [x for x in items if isinstance(x, str) and x]
    return list(dict.fromkeys(out))


def _pad(code, width):
    return code if len(code) == 6 else code + "0" * width


def _mark_keys(marks):
    return sorted({":".join(m.split(":")[:2]) for m in marks
                   if not m.startswith("无") and m.split(":")[0] not in cand.CONDITION_NAMES})


def _pairs_of(marks):
    parts = marks[:6]
    return [f"{a}|{b}" for i, a in enumerate(parts) for b in parts[i + 1:]]


def _dated_clothes(row, back):
    """Each coloured piece with the 30-day period of the record's date and the ``back`` ones before it."""
    day = row["event_date"]
    if day is None or pd.isna(day):
        return []
    period = (day - pd.Timestamp("1970-01-01")).days // cand.CLOTHING_PERIOD_DAYS
    pieces = [c for c in _keys(row["clothing_items"]) if ":" in c and not c.startswith(":")]
    return list(dict.fromkeys(f"{c}@{period - b}" for c in pieces for b in range(back + 1)))


def _masked_name(name):
    if not isinstance(name, str) or not 3 <= len(name) <= 5 or "·" in name:
        return []
    return [name[:i] + "?" + name[i + 1:] for i in range(len(name))]


def _km(lon1, lat1, lon2, lat2):
    p1, p2, dp, dl = map(math.radians, (lat1, lat2, lat2 - lat1, lon2 - lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def _interval(row):
    low, high = row["birth_year_low"], row["birth_year_high"]
    return (high if pd.isna(low) else low), (low if pd.isna(high) else high)


def reference_pairs(residents, reports, s):
    """Every pass by its definition, pair by pair: the keys meet, the sexes agree when both known,
    found no earlier than lost less the tolerance, and (all passes but name_sound) the birth-year
    intervals within the resident's window. → {(resident_id, missing_id): set of passes}, counts."""
    by_name = {p.name: p for p in s.passes}
    rep = []
    for _, m in reports.iterrows():
        givens = _keys(m["given_keys"], m["alias_keys"])
        places = [_pad(p, 2) for p in _keys(m["missing_prefecture"], m["missing_county"][:4]
                                            if isinstance(m["missing_county"], str) else None, m["home_prefecture"])]
        provinces = [_pad(p, 4) for p in _keys(m["home_province"], m["missing_county"][:2]
                                              if isinstance(m["missing_county"], str) else None)]
        lon = m["home_lon"] if pd.isna(m["missing_lon"]) else m["missing_lon"]
        lat = m["home_lat"] if pd.isna(m["missing_lat"]) else m["missing_lat"]
        rep.append({"names": _keys(m["name_keys"], m["alias_keys"]),
                    "givens": [f"G:{k}" for k in givens] + [f"L:{k.split()[-1]}" for k in givens if " " in k],
                    "masked": _masked_name(m["name_norm"]), "surnames": _keys(m["surname_keys"]),
                    "hometown": _keys(f"P{m['home_province']}" if m["home_province"] else None,
                                      f"C{m['home_prefecture']}" if m["home_prefecture"] else None,
                                      f"C{m['home_county'][:4]}00" if m["home_county"] else None,
                                      f"A{m['home_dialect_area']}" if m["home_dialect_area"] else None),
                    "places": places, "provinces": provinces, "marks": _mark_keys(_keys(m["marks"])),
                    "conditions": _keys(m["conditions"]), "dated_clothing": _dated_clothes(m, 0),
                    "lon": lon, "lat": lat, "sex": m["sex_code"], "years": _interval(m), "day": m["event_date"]})
    for r in rep:
        r["mark_pairs"] = _pairs_of(r["marks"])
        r["home_conditions"] = [f"{h}|{c}" for h in r["hometown"] for c in r["conditions"]]
    share = {}
    for r in rep:
        for k in r["surnames"]:
            share[k] = share.get(k, 0) + 1 / len(rep)
    for r in rep:
        r["rare_surnames"] = [k for k in r["surnames"] if share[k] < by_name["rare_surname"].max_key_share]
    held = {}
    for r in rep:
        for k in r["conditions"]:
            held[k] = held.get(k, 0) + 1 / len(rep)
    top = by_name["conditions_named"].max_key_share if "conditions_named" in by_name else 0.0
    for r in rep:
        r["rare_conditions"] = [k for k in r["conditions"] if held[k] < top]
    centres = {}
    for field, name in (("places", "prefecture"), ("provinces", "province")):
        sums = {}
        for r in rep:
            for k in r[field]:
                if not (pd.isna(r["lon"]) or pd.isna(r["lat"])):
                    sums.setdefault(k, []).append((r["lon"], r["lat"]))
        centres[name] = {k: (sum(x for x, _ in v) / len(v), sum(y for _, y in v) / len(v)) for k, v in sums.items()}

    keys = {  # pass → (resident keys, report keys) by the definitions above
        "name_sound": ("names", "names"), "given_sound": ("givens", "givens"), "one_char": ("masked", "masked"),
        "rare_surname": ("surnames", "rare_surnames"), "prefixed_surname": ("prefixed", "surnames"),
        "hometown": ("hometown", "hometown"), "place": ("near", "places"), "marks": ("marks", "marks"),
        "mark_pairs": ("mark_pairs", "mark_pairs"), "conditions": ("conditions", "conditions"),
        "conditions_named": ("conditions_named", "rare_conditions"), "last_resort": ("provinces_near", "provinces"),
        "marks_other_sex": ("marks", "marks"), "hometown_other_sex": ("hometown", "hometown"),
        "place_other_sex": ("near", "places"), "home_conditions": ("home_conditions", "home_conditions"),
        "dated_clothing": ("dated_clothing", "dated_clothing"),
        "dated_clothing_named": ("dated_clothing", "dated_clothing")}
    assert set(by_name) <= set(keys)  # every pass is defined here
    passes = {name: (*keys[name], p.year_window) for name, p in by_name.items()}
    found = {}
    counts = {name: {"proposed": 0, "removed_by_constraints": 0, "capped": 0, "kept": 0} for name in by_name}
    for _, row in residents.iterrows():
        evidence = True if row["name_evidence"] is None else bool(row["name_evidence"])
        name = row["name_norm"]
        res = {"names": _keys(row["name_keys"], row["alias_keys"]) if evidence else [],
               "masked": _masked_name(name) if evidence else [],
               "surnames": _keys(row["surname_keys"]) if evidence else [],
               "prefixed": _keys(row["given_keys"]) if evidence and len(name) == 2 and name[0] in "老小阿" else [],
               "marks": _mark_keys(_keys(row["marks"])),
               # one conditions pass asks for residents without a usable name, the other for the rest
               "conditions": [] if evidence else _keys(row["conditions"]),
               "conditions_named": _keys(row["conditions"]) if evidence else []}
        given = _keys(row["given_keys"], row["alias_keys"], row["name_keys"])
        res["givens"] = ([f"G:{k}" for k in given] + [f"L:{k}" for k in given if " " not in k]) if evidence else []
        stated = [p for p in _keys(row["statement_places"]) if len(p) == 6]
        res["hometown"] = ([f"P{p}" for p in _keys(row["accent_provinces"])] + [f"C{p[:4]}00" for p in stated]
                           + [f"P{p[:2]}0000" for p in stated]
                           + ([f"A{row['accent_area']}"] if not _keys(row["accent_provinces"]) and row["accent_area"]
                              else []))
        res["mark_pairs"] = _pairs_of(res["marks"])
        res["dated_clothing"] = _dated_clothes(row, 1)
        res["home_conditions"] = [f"{h}|{c}" for h in res["hometown"] for c in _keys(row["conditions"])]
        lon, lat = row["found_lon"], row["found_lat"]
        county = row["found_county"] if isinstance(row["found_county"], str) else None
        for key, centre_kind, width, cut, km in (("near", "prefecture", 2, 4, by_name["place"].near_km),
                                                 ("provinces_near", "province", 4, 2, by_name["last_resort"].near_km)):
            own = [_pad(p, width) for p in _keys(row[f"found_{centre_kind}"], county[:cut] if county else None)][:1]
            near = [] if pd.isna(lon) or pd.isna(lat) else [
                k for k, (x, y) in sorted(centres[centre_kind].items()) if _km(lon, lat, x, y) <= km]
            res[key] = list(dict.fromkeys(own + near))
        if not res["provinces_near"]:
            res["provinces_near"] = sorted(centres["province"])
        low, high = _interval(row)
        found_year = row["event_date"].year if row["event_date"] is not None and not pd.isna(row["event_date"]) \
            else np.nan
        age = found_year - (low + high) / 2
        age = 40.0 if np.isnan(age) else min(max(age, 0), 100)
        little = not res["names"] and not res["hometown"] and not res["marks"]
        so_far = 0
        for name_, (res_field, rep_field, window) in passes.items():
            if name_ == "last_resort" and not (little or so_far < s.few_candidates):
                continue
            group = by_name[name_].residents
            if (group == "nameless" and evidence) or (group == "named" and not evidence):
                continue
            for m_row, m in zip(reports["missing_id"], rep, strict=True):
                if not set(res[res_field]) & set(m[rep_field]):
                    continue
                sex_ok = row["sex_code"] is None or m["sex"] is None or row["sex_code"] == m["sex"]
                if by_name[name_].other_sex:  # both sexes recorded, and they differ
                    sex_ok = row["sex_code"] is not None and m["sex"] is not None and row["sex_code"] != m["sex"]
                if window is not None:
                    gap = max(0.0, low - m["years"][1], m["years"][0] - high)
                    # the passes with a window look up the resident's sex (and unknown) only
                    if gap > window + s.year_window_per_age * age or not sex_ok:
                        continue
                counts[name_]["proposed"] += 1
                late = (row["event_date"] is not None and m["day"] is not None
                        and (row["event_date"] - m["day"]).days < -cand.DATE_TOLERANCE_DAYS)
                # a pass with any_sex (name_sound) proposes a pair whatever the recorded sexes
                any_sex = next(p.any_sex for p in s.passes if p.name == name_)
                if (not sex_ok and not any_sex) or late:
                    counts[name_]["removed_by_constraints"] += 1
                    continue
                counts[name_]["kept"] += 1
                # the pairs of a pass of the other sex or not fitted on do not hold back the fallback
                so_far += by_name[name_].fit and not by_name[name_].other_sex
                found.setdefault((row["resident_id"], m_row), set()).add(name_)
    return found, counts


@pytest.mark.parametrize("seed, per_age, conditions, other_sex", [(11, 0.1, False, False), (12, 0.1, True, False),
                                                                   (13, 0.3, True, False), (11, 0.1, True, True)])
def test_passes_equal_a_pair_by_pair_reference(seed, per_age, conditions, other_sex):
    from kinmatch.match.passes import CONDITION_PASSES, HOME_CONDITION_PASSES, OTHER_SEX_PASSES

    residents, reports = messy_tables(seed)
    passes = cand.DEFAULT_PASSES
    if conditions:  # the passes by conditions, before the fallback
        passes = (*passes[:-1], *CONDITION_PASSES, passes[-1])
    if not other_sex:  # without the default passes of the other recorded sex
        passes = tuple(p for p in passes if p not in OTHER_SEX_PASSES)
    else:  # and the pass by home and condition, before the fallback
        passes = (*passes[:-1], *HOME_CONDITION_PASSES, passes[-1])
    lifted = cand.CandidateSettings(passes=[replace(p, cap=10**6, other_sex_cap=p.other_sex_cap and 10**6)
                                            for p in passes], few_candidates=3, year_window_per_age=per_age)
    lifted = lifted.with_pass("rare_surname", max_key_share=0.25)
    if conditions:  # 聋哑, the messy tables' one condition, is held by 13-21% of their reports
        lifted = lifted.with_pass("conditions_named", max_key_share=0.3)
    result = candidate_pairs(residents, reports, lifted, progress=False, max_per_resident=10**6, chunk_size=16)
    expected, counts = reference_pairs(residents, reports, lifted)
    got = {(r, m): set(p.split("+")) for r, m, p in result.pairs[["resident_id", "missing_id", "passes"]].values}
    assert got == expected
    table = result.counts.set_index("pass")
    names = [p.name for p in lifted.passes]
    for name in names:
        assert table.loc[name].to_dict() == counts[name], name
    # every pass proposed something, so none is vacuously equal
    assert all(counts[name]["kept"] > 0 for name in names), counts


def _column(cells):
    """An object column of cells as a frame holds them (a list of tuples must not become 2-D)."""
    column = np.empty(len(cells), dtype=object)
    for i, cell in enumerate(cells):
        column[i] = cell
    return column


_cells = st.one_of(st.none(), st.just(float("nan")), st.sampled_from(["", "li", "wei", "li wei"]),
                   st.lists(st.sampled_from(["", "li", "wei", "li wei", "xue"]), max_size=4).map(tuple))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_cells, _cells), max_size=12))
def test_flat_keys_equal_the_per_record_definition(rows):
    first, second = (_column([row[i] for row in rows]) for i in (0, 1))
    flat = cand._flat(first, second)
    expected = [(i, k) for i, row in enumerate(rows) for k in _keys(*row)]
    assert list(zip(flat.positions.tolist(), flat.keys.tolist(), strict=True)) == expected
    # the codes that travel with the keys name the same keys, through rewrites and merges too
    given = cand._concat(cand._map_keys(flat, lambda k: f"G:{k}"),
                         cand._map_keys(flat, lambda k: f"L:{k.split()[-1]}" if " " in k else None))
    for coded in (flat, given, cand._first_per_record(given), cand._sorted_per_record(given)):
        if coded.codes is not None:
            assert coded.vocabulary[coded.codes].tolist() == coded.keys.tolist()
            assert len(set(coded.vocabulary.tolist())) == len(coded.vocabulary)
    assert list(zip(given.positions.tolist(), given.keys.tolist(), strict=True)) == sorted(
        [(i, f"G:{k}") for i, k in expected] + [(i, f"L:{k.split()[-1]}") for i, k in expected if " " in k],
        key=lambda pair: pair[0])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(MESSY_MARKS + ["痣:额头:", "疤痕:腿:左", "癫痫"]), max_size=8).map(tuple),
                max_size=10))
def test_mark_keys_and_pairs_equal_the_per_record_definition(rows):
    column = _column(rows)
    marks = cand._sorted_per_record(cand._map_keys(cand._flat(column), cand._mark_key))
    assert list(zip(marks.positions.tolist(), marks.keys.tolist(), strict=True)) == [
        (i, k) for i, row in enumerate(rows) for k in _mark_keys(row)]
    pairs = cand._mark_pair_flat(marks)
    assert list(zip(pairs.positions.tolist(), pairs.keys.tolist(), strict=True)) == [
        (i, k) for i, row in enumerate(rows) for k in _pairs_of(_mark_keys(row))]


_SCORES = [-1.5, -0.0, 0.0, 0.5, 0.5 + 2**-40, 0.5 - 2**-40, 2.0, 1e-300, -1e300]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(_SCORES)),
                max_size=40), st.integers(1, 4), st.booleans())
def test_cap_keeps_the_best_of_each_resident_ties_by_report(rows, cap, per_pair):
    # pairs sorted by resident then report, as the passes hand them over; 0.5 ± 2**-40 share the
    # coarse score the cap sorts on first, so the exact tie-break is exercised
    r = np.array(sorted(r for r, _ in rows), dtype=np.int64)
    m = np.zeros(len(r), dtype=np.int64)
    for i in range(1, len(r)):
        m[i] = m[i - 1] + 1 if r[i] == r[i - 1] else 0
    score = np.array([s for _, s in rows], dtype=float)
    caps = (r % 2 + cap - 1) if per_pair else cap  # per-pair caps are the same for all pairs of a resident (0 too)
    keep = cand._cap(r, caps, lambda rows_: score[rows_])
    expected = []
    for resident in sorted(set(r.tolist())):
        idx = [i for i in range(len(r)) if r[i] == resident]
        limit = int(caps[idx[0]]) if per_pair else cap
        expected += sorted(sorted(idx, key=lambda i: (-score[i], m[i]))[:limit])
    assert keep.tolist() == sorted(expected)
    # and the best-first order is the plain lexsort's
    assert cand._best_first(r, score).tolist() == np.lexsort((m, -score, r)).tolist()


@pytest.mark.parametrize("values", [[0.0, -0.0, 1.0, -1.0], [1e-300, -1e-300, 5e300, -5e300, 2.5, 2.5],
                                    [np.inf, -np.inf, 0.0]])
def test_sortable_keys_sort_as_the_floats(values):
    values = np.array(values)
    keys = cand._sortable(values)
    for i in range(len(values)):
        for j in range(len(values)):
            assert (keys[i] < keys[j]) == (values[i] < values[j])
            assert (keys[i] == keys[j]) == (values[i] == values[j])


def test_distance_from_per_record_parts_is_haversine_bit_for_bit():
    # the pre-score's distance comes from radians and cosines computed once per record; it must be
    # haversine_km exactly, or caps and prescores would drift from the comparisons' distances
    from types import SimpleNamespace

    from kinmatch.geo import haversine_km

    rng = np.random.default_rng(5)
    lon = np.r_[rng.uniform(73, 135, 3000), 104.08, 104.08, np.nan, 0.0, -179.9, 180.0]
    lat = np.r_[rng.uniform(18, 54, 3000), 30.66, -30.66, 30.0, np.nan, 89.9, -90.0]
    sides = []
    for order in (rng.permutation(len(lon)), np.arange(len(lon))):
        side = SimpleNamespace(lon=lon[order], lat=lat[order])
        cand._set_trig(side)
        sides.append(side)
    res, rep = sides
    r, m = rng.integers(0, len(lon), 50_000), rng.integers(0, len(lon), 50_000)
    expected = haversine_km(res.lon[r], res.lat[r], rep.lon[m], rep.lat[m])
    got = cand._distance_km(res, rep, r, m)
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got).any() and (got == 0).any()  # blanks and the same place were among the pairs


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(-0.0)), max_size=30),
       st.sampled_from([0.5, 1.5, 2.0]))
def test_nan_to_equals_nan_to_num(values, nan):
    values = np.array(values, dtype=float)
    got, expected = cand._nan_to(values, nan), np.nan_to_num(values, nan=nan)
    assert got.tobytes() == expected.tobytes()  # bit for bit, -0.0 included


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(float("nan")),
                          st.text(alphabet="李丹玲?·𠮷王", min_size=0, max_size=7)), max_size=12))
# a trailing NUL (numpy text would drop it). Not in the random names: pandas' factorize, which the
# masking shares with every key, takes strings equal up to a NUL for one ("" and "\x00??")
@example(["李丹\x00", "李丹玲", "张\x00三", "\x00"])
def test_masked_names_equal_the_per_record_definition(names):
    flat = cand._masked_flat(_column(names))
    expected = [(i, k) for i, name in enumerate(names) for k in dict.fromkeys(cand._masked(name))]
    assert list(zip(flat.positions.tolist(), flat.keys.tolist(), strict=True)) == expected


@pytest.mark.parametrize("km, bad_latitude", [(150.0, False), (1500.0, False), (150.0, True)])
def test_near_places_equal_the_whole_distance_matrix(km, bad_latitude):
    # the latitude prefilter must rule out only places that are really beyond km, also for places
    # on the edge of the distance and for latitudes beyond ±90° (where the bound fails: no prefilter)
    from types import SimpleNamespace

    from kinmatch.geo import haversine_km

    rng = np.random.default_rng(int(km) + bad_latitude)
    centres = pd.DataFrame({"lon": rng.uniform(75, 130, 300), "lat": rng.uniform(20, 50, 300)},
                           index=pd.Index([f"{i:04d}00" for i in range(300)], name="key"))
    lon, lat = rng.uniform(75, 130, 400), rng.uniform(20, 50, 400)
    # residents exactly km due north of a centre (the latitude bound is tight there), and blanks
    lon[:50] = centres["lon"].to_numpy()[:50]
    lat[:50] = centres["lat"].to_numpy()[:50] + np.degrees(km / 6371.0) * rng.choice([1 - 1e-12, 1.0, 1 + 1e-12], 50)
    lat[50:55] = np.nan
    if bad_latitude:
        lat[60] = 120.0
    res = SimpleNamespace(n=len(lon), lon=lon, lat=lat)
    chunk = np.arange(20, 400)
    got = cand._near(res, chunk, cand._empty_flat(), centres, km)
    dist = haversine_km(lon[chunk][:, None], lat[chunk][:, None], centres["lon"].to_numpy()[None, :],
                        centres["lat"].to_numpy()[None, :])
    rows, cols = np.nonzero(dist <= km)
    assert got.positions.tolist() == chunk[rows].tolist()
    assert got.keys.tolist() == centres.index[cols].tolist()
    assert len(rows) > 0


@settings(max_examples=60, deadline=None)
@given(st.integers(1930, 2000), st.one_of(st.integers(0, 14), st.none()),
       st.lists(st.tuples(st.integers(-35, 25), st.integers(0, 14),
                          st.sampled_from(["both", "both", "low", "high", "none"])), min_size=1, max_size=25))
# reports that start below the window and end inside it, or just before it
@example(1960, 0, [(-20, 10, "both"), (-30, 12, "both"), (-31, 12, "both"), (20, 4, "both")])
def test_year_window_finds_exactly_the_reports_within_it(born, width, intervals):
    # reports filed under their first birth-year bin, queried from `span` bins lower: every report
    # whose interval (narrow, wide, half or wholly unknown) is within the window must be proposed,
    # and only those
    low, high = (born, born + width) if width is not None else (np.nan, np.nan)
    rows = []
    for i, (offset, w, known) in enumerate(intervals):
        r_low, r_high = born + offset, born + offset + w
        r_low, r_high = {"both": (r_low, r_high), "low": (r_low, np.nan), "high": (np.nan, r_high),
                         "none": (np.nan, np.nan)}[known]
        row = report(f"M{i:02d}", ("李", "li"), ("伟", "wei"), lost="2015-01-01")
        rows.append(row | {"birth_year_low": r_low, "birth_year_high": r_high, "name_keys": (f"x{i}",)})
    residents = pd.DataFrame([resident("R1", given_keys=("wei",), born=(low, high), found="2020-01-01")])
    result = candidate_pairs(residents, pd.DataFrame(rows), progress=False, few_candidates=0)
    age = 40.0 if width is None else min(max(2020 - (low + high) / 2, 0), 100)
    settings = cand.CandidateSettings()
    window = {p.name: p for p in settings.passes}["given_sound"].year_window + settings.year_window_per_age * age
    expected = set()
    for row in rows:
        r_low, r_high = row["birth_year_low"], row["birth_year_high"]
        r_low, r_high = (r_high, r_high) if np.isnan(r_low) else (r_low, r_low) if np.isnan(r_high) else (r_low, r_high)
        gap = max(0.0, low - r_high, r_low - high)
        if not gap > window:  # an unknown year (NaN) is never outside
            expected.add(row["missing_id"])
    got = set(result.pairs.loc[result.pairs["passes"].str.contains("given_sound"), "missing_id"])
    assert got == expected
    assert result.counts.set_index("pass").loc["given_sound", "proposed"] == len(expected)


def test_packed_candidates_travel_and_unpack_to_the_same_frame():
    # what a worker process sends back: integer arrays and the ids they use, pickled, unpacked by
    # the parent into the very frame candidate_pairs gives
    import pickle

    missing, residents = random_reports(800), random_residents(60)
    packed = cand.packed_candidate_pairs(residents, missing, progress=False, max_per_resident=25)
    expected = candidate_pairs(residents, missing, progress=False, max_per_resident=25)
    got = pickle.loads(pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL)).unpack()
    pd.testing.assert_frame_equal(got.pairs, expected.pairs, check_exact=True)
    pd.testing.assert_frame_equal(got.counts, expected.counts, check_exact=True)
    assert len(packed.missing_ids) < len(missing)  # only reports that have a pair travel
    assert set(packed.missing_ids) == set(expected.pairs["missing_id"])
    nobody = cand.packed_candidate_pairs(residents.iloc[:0], missing, progress=False).unpack()
    assert nobody.pairs.empty and list(nobody.pairs.columns) == ["resident_id", "missing_id", "passes", "prescore"]


def test_wide_pair_codes_give_the_same_pairs(monkeypatch):
    # pair codes are uint32 when a group of residents and the report positions fit 32 bits, int64
    # otherwise (a chunk spanning many residents at a million reports): both must agree. Wider
    # report fields force the int64 codes on this small table
    missing, residents = random_reports(800), random_residents(60)
    narrow = candidate_pairs(residents, missing, progress=False)
    monkeypatch.setattr(cand, "_report_bits", lambda n_reports: 28)
    wide = candidate_pairs(residents, missing, progress=False)
    pd.testing.assert_frame_equal(wide.pairs, narrow.pairs, check_exact=True)
    pd.testing.assert_frame_equal(wide.counts, narrow.counts, check_exact=True)


# ---------------------------------------------------------------------------------------------
# the caps' agreement bonus: evidence beyond a pass's own key decides which pairs a cap keeps


def _agreement_of(res_row, rep_row, **overrides):
    settings = cand.CandidateSettings(**overrides)
    residents, missing = pd.DataFrame([res_row]), pd.DataFrame([rep_row])
    rep = cand._Reports(missing, settings)
    res = cand._Residents(residents)
    res.set_agreement(residents, rep)
    return float(cand._agreement(res, rep, np.array([0]), np.array([0]), settings)[0])


@pytest.mark.parametrize("res_fields, rep_fields, expected", [
    ({"accent_provinces": ("510000",)}, {}, 2.0),                                   # accent = home province
    ({"accent_provinces": ("330000",)}, {}, 0.0),                                   # accent elsewhere
    ({"accent_area": "SW_Man"}, {"home_dialect_area": "SW_Man"}, 1.0),              # dialect area only
    ({"accent_area": "Wu"}, {"home_dialect_area": "SW_Man"}, 0.0),
    ({"statement_places": ("510106",)}, {}, 1.0),                                   # stated prefecture 5101
    ({"statement_places": ("510600",)}, {}, 0.0),                                   # another Sichuan prefecture
    ({"accent_provinces": ("510000",), "statement_places": ("510106",)}, {}, 2.0),  # the province decides
    ({"surname_keys": ("zhang",)}, {}, 2.0),                                         # surname meets
    ({"surname_keys": ("wang",)}, {}, 0.0),
    ({"given_keys": ("ying",)}, {}, 2.0),                                            # 阿英 meets 秀英
    ({"given_keys": ("xiu fang",)}, {}, 0.0),
    ({"name_norm": "老张", "given_keys": ("zhang",)}, {}, 2.0),                      # 老张: the syllable as surname
    ({"surname_keys": ("zhang",), "given_keys": ("xiu ying",), "accent_provinces": ("510000",)}, {}, 6.0),
    ({"surname_keys": ("zhang",), "given_keys": ("xiu ying",), "name_evidence": False}, {}, 0.0),  # 党X: no name
])
def test_agreement_bonus_counts_clues_beyond_the_pass(res_fields, rep_fields, expected):
    rep_row = report("M1", ("张", "zhang"), ("秀英", "xiu ying"), place=0) | rep_fields  # home 510104
    res_row = resident("R1", place=1) | {"name_norm": None} | res_fields
    assert _agreement_of(res_row, rep_row, home_bonus=2.0, name_bonus=2.0) == pytest.approx(expected)
    assert _agreement_of(res_row, rep_row, home_bonus=4.0, name_bonus=4.0) == pytest.approx(2 * expected)
    assert _agreement_of(res_row, rep_row, home_bonus=0, name_bonus=0) == 0.0


@pytest.mark.parametrize("home_bonus, name_bonus, kept", [
    (2.0, 2.0, True),
    (2.0, 0.0, True),   # the surname pass keeps it: its home meets the accent
    (0.0, 2.0, True),   # the hometown pass keeps it: its surname meets 老张
    (0.0, 0.0, False),  # neither: both caps fill with decoys that came first
])
def test_cap_keeps_the_report_with_a_second_clue(home_bonus, name_bonus, kept):
    # 老张 with a Sichuan accent, found in Hangzhou; 80 reports of a 张 of his age lost in Jinan from
    # Zhejiang, and 80 of a 王 from Sichuan: only the true one is both a 张 and from Sichuan. It comes
    # last (ties keep the first reports)
    zhejiang, sichuan = _place("330106", 120.13, 30.27, "home"), _place("510104", 104.08, 30.66, "home")
    zhang = [report(f"Z{i:03d}", ("张", "zhang"), ("伟", "wei"), born=1960, place=2) | zhejiang for i in range(80)]
    wang = [report(f"W{i:03d}", ("王", "wang"), ("伟", "wei"), born=1960, place=2) | sichuan for i in range(80)]
    true = report("TRUE", ("张", "zhang"), ("军", "jun"), born=1960, place=2) | sichuan
    missing = pd.DataFrame(zhang + wang + [true])
    residents = pd.DataFrame([resident("R1", name_keys=("lao zhang",), given_keys=("zhang",), accent=("510000",),
                                       place=1) | {"name_norm": "老张"}])
    settings = cand.CandidateSettings()
    for name in ("prefixed_surname", "hometown", "place", "last_resort"):
        settings = settings.with_pass(name, cap=10)
    result = candidate_pairs(residents, missing, settings, progress=False, home_bonus=home_bonus,
                             name_bonus=name_bonus)
    assert ("TRUE" in set(result.pairs["missing_id"])) == kept
    counts = result.counts.set_index("pass")
    assert counts.loc["prefixed_surname", "capped"] > 0 and counts.loc["hometown", "capped"] > 0


@pytest.mark.parametrize("report_place, far_km, expected", [
    (0, None, 0.0),      # same place: no distance either way
    (1, None, None),     # Chengdu → Hangzhou (~1,600 km) in full
    (1, 600.0, 2.0),     # … counted as 600 km: 2 units of 300 km
    (1, 3000.0, None),   # a limit beyond the distance changes nothing
    (5, 600.0, 2.0),     # Harbin is as far as Hangzhou once both are beyond the limit
])
def test_prescore_counts_distance_up_to_far_km(report_place, far_km, expected):
    missing = pd.DataFrame([report("M1", ("张", "zhang"), ("伟", "wei"), place=report_place, lost="2021-06-01")])
    residents = pd.DataFrame([resident("R1", born=(1960, 1960), found="2021-06-01", place=0)])
    settings = cand.CandidateSettings()
    rep, res = cand._Reports(missing, settings), cand._Residents(residents)
    res.feature_bits, rep.feature_bits = np.zeros(1, np.int64), np.zeros(1, np.int64)
    pair = (np.array([0]), np.array([0]))
    score = float(cand.prescore(res, rep, *pair, far_km=far_km)[0])
    if expected is None:  # in full: the haversine distance in units of 300 km
        code, lon, lat = PLACES[report_place]
        expected = cand.haversine_km(np.array([PLACES[0][1]]), np.array([PLACES[0][2]]), np.array([lon]),
                                     np.array([lat]))[0] / 300.0
        assert expected > 2.0
    assert score == pytest.approx(settings.prescore_weights["distance"] * expected)
    # the weights are the settings': doubled, the score doubles; the distance unweighted, it is 0
    doubled = {term: 2 * w for term, w in settings.prescore_weights.items()}
    assert float(cand.prescore(res, rep, *pair, far_km=far_km, weights=doubled)[0]) == pytest.approx(2 * score)
    unweighted = settings.prescore_weights | {"distance": 0.0}
    assert float(cand.prescore(res, rep, *pair, far_km=far_km, weights=unweighted)[0]) == 0.0


def test_overrides_leave_the_callers_settings_alone():
    from kinmatch.match.candidates import CandidateSettings, candidate_pairs

    settings = CandidateSettings()
    residents = pd.DataFrame({"resident_id": ["R1"], "sex_code": ["F"], "name_keys": [("li wei",)]})
    missing = pd.DataFrame({"missing_id": ["M1"], "sex_code": ["F"], "name_keys": [("li wei",)]})
    candidate_pairs(residents, missing, settings=settings, progress=False, max_per_resident=9)
    assert settings.max_per_resident == CandidateSettings().max_per_resident
    with pytest.raises(TypeError, match="unknown setting 'yearwindow'"):
        candidate_pairs(residents, missing, progress=False, yearwindow=9.0)


# ---------------------------------------------------------------------------------------------
# passes are data: a pass declared here alone runs, any number of passes, settings as JSON


def test_a_pass_declared_here_alone_proposes_pairs_and_is_counted():
    # a toy pass: the resident's accent area meets the report's home dialect area, same sex, any age
    from kinmatch.match.passes import CandidatePass

    accent = CandidatePass("accent_area", resident_keys="column:accent_area", report_keys="column:home_dialect_area",
                           cap=10**6, year_window=None)
    residents, reports = messy_tables(21)
    settings = cand.CandidateSettings(passes=[*cand.DEFAULT_PASSES, accent], max_per_resident=10**6,
                                      nameless_max_per_resident=10**6)
    result = candidate_pairs(residents, reports, settings, progress=False)
    expected = set()
    for _, row in residents.iterrows():
        for _, m in reports.iterrows():
            if not row["accent_area"] or row["accent_area"] != m["home_dialect_area"]:
                continue
            sex_ok = row["sex_code"] is None or m["sex_code"] is None or row["sex_code"] == m["sex_code"]
            late = (row["event_date"] is not None and m["event_date"] is not None
                    and (row["event_date"] - m["event_date"]).days < -cand.DATE_TOLERANCE_DAYS)
            if sex_ok and not late:
                expected.add((row["resident_id"], m["missing_id"]))
    passes = result.pairs.set_index(["resident_id", "missing_id"])["passes"]
    got = {pair for pair, names in passes.items() if "accent_area" in names.split("+")}
    assert got == expected and len(expected) > 20
    counts = result.counts.set_index("pass")
    assert list(counts.index) == [*PASSES, "accent_area", "union"]
    assert counts.loc["accent_area", "kept"] == len(expected)
    assert counts.loc["accent_area", "proposed"] > len(expected)  # the constraints removed some
    # the other passes are untouched by the new one (but the fallback, which serves residents with
    # few pairs from the others: the new pass gives some of them more)
    alone = candidate_pairs(residents, reports, progress=False, max_per_resident=10**6,
                            nameless_max_per_resident=10**6).counts.set_index("pass")
    pd.testing.assert_frame_equal(counts.drop(["accent_area", "last_resort", "union"]),
                                  alone.drop(["last_resort", "union"]))
    assert counts.loc["last_resort", "proposed"] < alone.loc["last_resort", "proposed"]


def test_a_column_key_is_plain_whatever_its_first_letter():
    # key classes come from the built key sets' prefixes (C…, G…, A…); a column's values are plain
    from kinmatch.match.passes import CandidatePass

    residents = pd.DataFrame([resident("R1", place=0) | {"clothing": ("Coat", "Apron")}])
    missing = pd.DataFrame([report("M1", ("李", "li"), ("伟", "wei"), place=0) | {"clothing": ("Coat",)},
                            report("M2", ("李", "li"), ("伟", "wei"), place=0) | {"clothing": ("Apron",)},
                            report("M3", ("李", "li"), ("伟", "wei"), place=0) | {"clothing": ("Hat",)}])
    clothing = CandidatePass("clothing", "column:clothing", "column:clothing", cap=1, second_clues=())
    settings = cand.CandidateSettings(passes=[clothing])
    result = candidate_pairs(residents, missing, settings, progress=False)
    # as a prefecture (C) Coat would win the cap; plain, the two tie and the first report is kept
    assert result.pairs["missing_id"].tolist() == ["M1"]
    assert result.counts.set_index("pass").loc["clothing", "capped"] == 1
    missing["clothing"] = [("Apron",), ("Coat",), ("Hat",)]
    assert candidate_pairs(residents, missing, settings, progress=False).pairs["missing_id"].tolist() == ["M1"]


@pytest.mark.parametrize("n_copies", [1, 9, 17, 70])
def test_any_number_of_passes(n_copies):
    # the same name pass under many names: every pair it finds is proposed by all of them, spelled
    # in order, whatever the number of passes (70 need 9 bytes of pass bits a pair)
    name_sound = cand.DEFAULT_PASSES[0]
    copies = [replace(name_sound, name=f"copy{i}", union_bonus=0.0) for i in range(n_copies)]
    missing, residents = random_reports(300), random_residents(30)
    one = candidate_pairs(residents, missing, cand.CandidateSettings(passes=copies[:1]), progress=False)
    many = candidate_pairs(residents, missing, cand.CandidateSettings(passes=copies, per_pass_support=0.0),
                           progress=False)
    assert len(one.pairs) > 0
    assert set(many.pairs["passes"]) == {"+".join(p.name for p in copies)}
    pd.testing.assert_frame_equal(many.pairs.drop(columns="passes"), one.pairs.drop(columns="passes"))
    counts = many.counts.set_index("pass")
    assert list(counts.index) == [p.name for p in copies] + ["union"]
    assert (counts.loc[[p.name for p in copies], "kept"] == counts.loc["copy0", "kept"]).all()
    packed = cand.packed_candidate_pairs(residents, missing, cand.CandidateSettings(passes=copies), progress=False)
    assert packed.pass_bits.shape == (len(one.pairs), (n_copies + 7) // 8)


@pytest.mark.parametrize("bits, names, expected", [
    (0, ("a", "b"), ""),
    (5, cand.PASSES, "name_sound+one_char"),
    (1 << 69 | 1, tuple(f"p{i}" for i in range(70)), "p0+p69"),
    (np.array([1, 2], dtype=np.uint8), tuple(f"p{i}" for i in range(16)), "p0+p9"),
])
def test_pass_names_spell_the_bits(bits, names, expected):
    assert cand.pass_names(bits, names) == expected


def test_a_fallback_pass_serves_only_residents_short_of_pairs():
    # a second fallback pass by name: a resident with enough named pairs does not get it
    from kinmatch.match.passes import CandidatePass

    fallback = CandidatePass("given_fallback", "given_sounds", "given_sounds", cap=50, year_window=10.0, fallback=True)
    missing = pd.DataFrame([report(f"M{i}", ("李", "li"), ("伟", "wei")) for i in range(5)])
    residents = pd.DataFrame([resident("R1", name_keys=("li wei",), given_keys=("wei",)),
                              resident("R2", given_keys=("wei",))])
    settings = cand.CandidateSettings(passes=[cand.DEFAULT_PASSES[0], fallback], few_candidates=3)
    result = candidate_pairs(residents, missing, settings, progress=False)
    passes = result.pairs.groupby("resident_id")["passes"].agg(set)
    assert passes["R1"] == {"name_sound"}   # five named pairs: no fallback
    assert passes["R2"] == {"given_fallback"}


def test_settings_round_trip_through_json():
    import json

    from kinmatch.match.passes import CandidatePass

    toy = CandidatePass("accent_area", "column:accent_area", "column:home_dialect_area", cap=7, year_window=None,
                        max_key_share=0.5, nameless_factor=2.5, distance="full", second_clues=("home",),
                        near_km=None, union_bonus=1.5)
    settings = cand.CandidateSettings(passes=[*cand.DEFAULT_PASSES, toy], cap_far_km=None, max_per_resident=123,
                                      key_class_scores={"dialect_area": -2.0, "plain": 0.0, "given_name": 1.0,
                                                        "prefecture": 3.5})
    text = json.dumps(settings.to_dict(), ensure_ascii=False, indent=1)
    back = cand.CandidateSettings.from_dict(json.loads(text))
    assert back == settings
    assert back.passes[-1] == toy and isinstance(back.passes, tuple)
    assert json.dumps(back.to_dict(), ensure_ascii=False, indent=1) == text
    assert '"name": "name_sound"' in text and '"cap_far_km": null' in text  # readable, not pickled
    assert cand.CandidateSettings.from_dict(cand.CandidateSettings().to_dict()) == cand.CandidateSettings()


@pytest.mark.parametrize("change, message", [
    ({"passes": [cand.DEFAULT_PASSES[0], cand.DEFAULT_PASSES[0]]}, "occur more than once"),
    ({"passes": [replace(cand.DEFAULT_PASSES[0], resident_keys="name_keys")]}, "resident_keys 'name_keys'"),
    ({"passes": [replace(cand.DEFAULT_PASSES[0], report_keys="column:")]}, "report_keys 'column:'"),
    ({"key_class_scores": {"plain": 0.0}}, "exactly"),
    ({"key_class_scores": {"dialect_area": 5.0, "plain": 0.0, "given_name": 2.0, "prefecture": 4.0}}, "ascend"),
])
def test_settings_say_what_is_wrong(change, message):
    with pytest.raises(ValueError, match=message):
        cand.CandidateSettings(**change)


@pytest.mark.parametrize("fields, message", [
    ({"distance": "near"}, "distance 'near'"),
    ({"second_clues": ("home", "marks")}, "second_clues"),
    ({"everywhere_when_none_near": True}, "needs near_km"),
    ({"name": "union"}, "not 'union'"),
    ({"cap": -1}, "cap -1"),
])
def test_a_pass_says_what_is_wrong(fields, message):
    from kinmatch.match.passes import CandidatePass

    with pytest.raises(ValueError, match=message):
        CandidatePass(**({"name": "toy", "resident_keys": "marks", "report_keys": "marks", "cap": 5} | fields))


def test_unknown_settings_and_fields_are_named():
    with pytest.raises(ValueError, match=r"unknown settings \['caps'\]"):
        cand.CandidateSettings.from_dict(cand.CandidateSettings().to_dict() | {"caps": {}})
    with pytest.raises(ValueError, match=r"unknown fields \['window'\]"):
        cand.CandidatePass.from_dict(cand.DEFAULT_PASSES[0].to_dict() | {"window": 3})
    with pytest.raises(KeyError, match="no candidate pass 'names'"):
        cand.CandidateSettings().with_pass("names", cap=3)
    with pytest.raises(TypeError, match="with_pass"):
        candidate_pairs(pd.DataFrame({"resident_id": []}), pd.DataFrame({"missing_id": []}), progress=False, caps={})


def test_key_sets_named_are_the_key_sets_built():
    from kinmatch.match.passes import CLOTHING_PASSES, CONDITION_PASSES, HOME_CONDITION_PASSES

    # every key set a pass may name exists on its side, and no built one goes unnamed
    residents, reports = messy_tables(5, n_residents=5, n_reports=20)
    res = cand._Residents(residents)
    assert set(res.key_sets) == set(cand.RESIDENT_KEY_SETS)
    used = {p.report_keys for p in (*cand.DEFAULT_PASSES, *CONDITION_PASSES, *HOME_CONDITION_PASSES,
                                    *CLOTHING_PASSES)}
    assert used <= set(cand.REPORT_KEY_SETS) and used == set(cand.REPORT_KEY_SETS)


@pytest.mark.parametrize("seed", [21, 22])
def test_a_side_restricted_to_some_reports_proposes_exactly_their_pairs(seed):
    # with every cap lifted, the reports' side restricted to a subset (report_side_of) proposes the
    # pairs the full side proposes with that subset, no more, no fewer (bench_quality's uncapped check)
    residents, reports = messy_tables(seed)
    lifted = cand.CandidateSettings(passes=[replace(p, cap=10**6, other_sex_cap=p.other_sex_cap and 10**6)
                                            for p in cand.DEFAULT_PASSES], few_candidates=0,
                                    max_per_resident=10**6, nameless_max_per_resident=10**6)
    full = candidate_pairs(residents, reports, lifted, progress=False).pairs
    chosen = set(reports["missing_id"].iloc[::7])
    side = cand.report_side_of(cand.report_side(reports, lifted), chosen)
    some = cand.packed_candidate_pairs(residents, reports, lifted, progress=False, reports=side).unpack().pairs
    expected = full[full["missing_id"].isin(chosen)]
    assert len(expected) > 20
    got = {(r, m): p for r, m, p in some[["resident_id", "missing_id", "passes"]].values}
    assert got == {(r, m): p for r, m, p in expected[["resident_id", "missing_id", "passes"]].values}


def test_a_pass_for_the_nameless_or_the_named_runs_for_them_only():
    from kinmatch.match.passes import CandidatePass

    missing = pd.DataFrame([report("M1", ("张", "zhang"), ("伟", "wei"), marks=("痣:额头:",)),
                            report("M2", ("李", "li"), ("明", "ming"), marks=("痣:额头:",))])
    residents = pd.DataFrame([resident("R1", evidence=False, marks=("痣:额头:",)),
                              resident("R2", name_keys=("wang fang",), marks=("痣:额头:",))])
    for group, who in (("all", {"R1", "R2"}), ("nameless", {"R1"}), ("named", {"R2"})):
        only = CandidatePass("marks_only", "marks", "marks", cap=10, residents=group)
        result = candidate_pairs(residents, missing, CandidateSettings(passes=[only]), progress=False)
        assert set(result.pairs["resident_id"]) == who, group
    with pytest.raises(ValueError, match="residents 'some'"):
        CandidatePass("marks_only", "marks", "marks", cap=10, residents="some")


def test_an_other_sex_pass_proposes_only_reports_of_the_other_recorded_sex():
    from kinmatch.match.passes import CandidatePass

    missing = pd.DataFrame([report("F1", ("张", "zhang"), ("伟", "wei"), sex="F", marks=("痣:额头:",)),
                            report("M1", ("李", "li"), ("明", "ming"), sex="M", marks=("痣:额头:",)),
                            report("U1", ("王", "wang"), ("芳", "fang"), sex=None, marks=("痣:额头:",)),
                            report("F2", ("赵", "zhao"), ("丽", "li"), sex="F", marks=("痣:额头:",), born=1900),
                            report("F3", ("周", "zhou"), ("军", "jun"), sex="F", marks=("疤痕:腿:",))])
    residents = pd.DataFrame([resident("R1", evidence=False, sex="M", marks=("痣:额头:",)),
                              resident("R2", evidence=False, sex=None, marks=("痣:额头:",))])
    other = CandidatePass("marks_other_sex", "marks", "marks", cap=10, year_window=10.0, other_sex=True)
    result = candidate_pairs(residents, missing, CandidateSettings(passes=[other]), progress=False)
    # F2 shares the mark but not the birth years; a resident of unknown sex has no other sex
    assert pair_set(result) == {("R1", "F1")}
    # the pass of the resident's own sex proposes the others, never F1
    own = replace(other, name="marks_own_sex", other_sex=False)
    assert pair_set(candidate_pairs(residents, missing, CandidateSettings(passes=[own]), progress=False)) == {
        ("R1", "M1"), ("R1", "U1"), ("R2", "F1"), ("R2", "M1"), ("R2", "U1")}


def test_other_sex_needs_a_by_year_pass():
    from kinmatch.match.passes import CandidatePass

    with pytest.raises(ValueError, match="other_sex needs a year_window"):
        CandidatePass("names_other_sex", "name_sounds", "name_sounds", cap=10, year_window=None, other_sex=True)


@pytest.mark.parametrize("named_factor, nameless_factor, kept_named, kept_nameless",
                         [(1.0, 1.0, 4, 4), (0.5, 1.0, 2, 4), (0.5, 1.5, 2, 6), (0.0, 2.0, 0, 8)])
def test_the_cap_of_a_resident_follows_whether_it_has_a_usable_name(named_factor, nameless_factor, kept_named,
                                                                     kept_nameless):
    from kinmatch.match.passes import CandidatePass

    missing = pd.DataFrame([report(f"M{i}", ("张", "zhang"), ("伟", "wei"), marks=("痣:额头:",)) for i in range(10)])
    residents = pd.DataFrame([resident("R1", name_keys=("wang fang",), marks=("痣:额头:",)),
                              resident("R2", evidence=False, marks=("痣:额头:",))])
    marks = CandidatePass("marks", "marks", "marks", cap=4, named_factor=named_factor, nameless_factor=nameless_factor)
    pairs = candidate_pairs(residents, missing, CandidateSettings(passes=[marks]), progress=False).pairs
    counts = pairs["resident_id"].value_counts()
    assert counts.get("R1", 0) == kept_named and counts.get("R2", 0) == kept_nameless
    with pytest.raises(ValueError, match="named_factor -1"):
        CandidatePass("marks", "marks", "marks", cap=4, named_factor=-1)


def test_crossed_keys_join_every_key_of_one_record_with_every_other():
    first = cand._flat(np.array([("P51", "A1"), (), ("P44",)], dtype=object))
    second = cand._flat(np.array([("痴呆", "聋哑"), ("痴呆",), ()], dtype=object))
    crossed = cand._crossed(first, second)
    assert list(zip(crossed.positions.tolist(), crossed.keys.tolist(), strict=True)) == [
        (0, "P51|痴呆"), (0, "P51|聋哑"), (0, "A1|痴呆"), (0, "A1|聋哑")]
    assert len(cand._crossed(first, cand._empty_flat()).keys) == 0


def test_report_partitions_merge_the_thin_evidence_options_exactly():
    """The other-sex and home-by-condition passes and caps by name evidence, each pass against parts
    of the reports and merged (:func:`merge_partitions`), equal one run over all of them."""
    from kinmatch.datasets import simulate
    from kinmatch.match.passes import HOME_CONDITION_PASSES, OTHER_SEX_PASSES
    from kinmatch.match.pipeline import prepare_records

    sim = simulate(n_missing=1500, n_residents=150, seed=5)
    residents, missing = prepare_records(sim.residents, "resident"), prepare_records(sim.missing, "missing")
    base = cand.CandidateSettings(max_per_resident=25, few_candidates=40, chunk_size=100)
    regular = [replace(p, named_factor=0.5) if p.nameless_factor > 1 else p for p in base.passes
               if not p.fallback and not p.other_sex]
    settings = replace(base, passes=(*regular, *HOME_CONDITION_PASSES, *[replace(p, cap=3) for p in OTHER_SEX_PASSES],
                                     *[p for p in base.passes if p.fallback]))
    whole = cand.packed_candidate_pairs(residents, missing, settings, progress=False)
    statistics = cand.report_statistics(missing[cand.statistics_columns(settings)], settings)
    edges = [0, 500, 1100, len(missing)]
    sides = [(a, cand.report_side(missing.iloc[a:b].reset_index(drop=True), settings, statistics))
             for a, b in zip(edges[:-1], edges[1:])]
    first = [cand.partition_pairs(residents, side, settings, offset) for offset, side in sides]
    needy = cand.needy_residents(first, settings)
    more = [cand.partition_pairs(residents, side, settings, offset, fallback=True, targets=needy)
            for offset, side in sides]
    r, m, bits, prescore, counts = cand.merge_partitions(first, more, len(missing), settings)
    assert np.array_equal(r, whole.residents)
    assert np.array_equal(missing["missing_id"].astype(str).to_numpy()[m], whole.missing_ids[whole.reports])
    assert np.array_equal(bits, whole.pass_bits) and np.array_equal(prescore, whole.prescore)
    pd.testing.assert_frame_equal(counts, whole.counts, check_dtype=False)
    kept = whole.counts.set_index("pass")["kept"]
    assert (kept[["marks_other_sex", "hometown_other_sex", "place_other_sex", "home_conditions"]] > 0).all()
