"""The sound path of the place parser against the plain computations it replaces.

Sound matching (``places._SoundIndex``, ``places._sound_candidates``) works with one distance
matrix per set of merger families, searches only the names whose first syllable is near, and
scores a chunk's readings as arrays; the fragment index reads the townships from the sound names
table. Each is checked here against the computation written out plainly (distance rows one
syllable at a time, every name of the length compared, the evidence summed reading by reading in
a loop, a plain index of the gazetteer's names, ``places_oracle.names_by_char``); the readings themselves are held by
``tests/test_places_readings.py``'s golden file.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from places_oracle import names_by_char

from kinmatch.normalize import places
from kinmatch.normalize.phonetics import FAMILIES

FAMILY_SETS = [tuple(FAMILIES), (), ("n_l",), ("r_y_l", "n_ng"), ("retroflex", "n_ng", "f_h", "h_x"),
               ("n_l", "retroflex", "n_ng", "r_y_l"), ("hu_wu",)]


@pytest.fixture(scope="module")
def idx() -> places._SoundIndex:
    return places._sound_index()


def _plain_index() -> dict[int, list]:
    """The names of 2-5 syllables (one per character) by syllable count, in table order."""
    names = places.SOUND_NAMES.columns()
    groups: dict[int, list] = {}
    for level, code, short, full, spelled in zip(names["level"], names["code"], names["short"], names["full"],
                                                 names["syllables"], strict=True):
        syllables = tuple(spelled.split())
        if 2 <= len(syllables) <= 5 and len(syllables) == len(short):
            groups.setdefault(len(syllables), []).append((level, code, short, full, syllables))
    return groups


def test_the_index_holds_every_name_of_two_to_five_syllables_in_table_order(idx):
    plain = _plain_index()
    assert sorted(idx.groups) == sorted(plain)
    for n, items in plain.items():
        group = idx.groups[n]
        got = [(lv, code, short, full, tuple(idx.words[k] for k in ids))
               for lv, code, short, full, ids in zip(group.level, group.code, group.short, group.full,
                                                     group.ids.tolist(), strict=True)]
        assert got == items
        assert group.township.tolist() == [item[0] == "township" for item in items]


@pytest.mark.parametrize("families", FAMILY_SETS)
def test_the_distance_matrix_equals_the_rows_one_syllable_at_a_time(idx, families):
    table = idx.distances(families)
    rows = np.stack([idx.distance_row(word, families) for word in idx.words])
    assert table.dtype == np.float32
    assert np.array_equal(table, rows)
    assert set(np.unique(table).tolist()) <= {0.0, 0.25, 0.5, 1.0}


def _plain_search(idx, syl, families, min_sim):
    """Every name of ``len(syl)`` syllables compared: rows in order and their similarities."""
    if len(syl) not in idx.groups:
        return [], []
    ids = idx.groups[len(syl)].ids
    d = np.zeros(len(ids), dtype=np.float32)
    for pos, s in enumerate(syl):
        d += idx.distance_row(s, families)[ids[:, pos]]
    sim = 1.0 - d / len(syl)
    keep = np.nonzero(sim >= min_sim)[0]
    return keep.tolist(), sim[keep].tolist()


def _syllable_tuples(idx, count: int, seed: int) -> list[tuple[str, ...]]:
    """Real names' syllables, the same with one or two syllables changed, and syllables outside the
    vocabulary (a spelling no name has)."""
    rng = random.Random(seed)
    out = []
    for n in (2, 3, 4, 5, 6):
        group = idx.groups.get(n)
        for _ in range(count):
            if group is None:
                out.append(tuple(rng.choice(idx.words) for _ in range(n)))
                continue
            syl = [idx.words[k] for k in group.ids[rng.randrange(len(group.ids))]]
            for _ in range(rng.choice([0, 1, 1, 2])):
                syl[rng.randrange(n)] = rng.choice(idx.words + ["zzz", "ngai"])
            out.append(tuple(syl))
    return out


@pytest.mark.parametrize("min_sim", [0.7, 0.5, 0.85, 0.62])
def test_search_equals_comparing_every_name(idx, min_sim):
    for number, syl in enumerate(_syllable_tuples(idx, 12, seed=int(min_sim * 100))):
        families = FAMILY_SETS[number % len(FAMILY_SETS)]
        rows, sim = idx.search_rows(syl, families, min_sim)
        want_rows, want_sim = _plain_search(idx, syl, families, min_sim)
        assert rows.tolist() == want_rows, syl
        assert sim.dtype == np.float32 and sim.tolist() == want_sim, syl


def _plain_sound_candidates(chunks, context, g, families, limit=30):
    """The sound readings scored one by one in a loop (the rules as stated), the strongest
    ``limit`` kept by a stable sort."""
    from rapidfuzz import fuzz

    idx = places._sound_index()
    found = []
    for chunk in chunks:
        chunk = places._EDGE_FILLER.sub("", chunk)
        m = places._UNIT_SUFFIX.search(chunk)
        suffix = m.group(1) if m else ""
        core = chunk[: m.start()] if m and len(chunk) - len(suffix) >= 2 else chunk
        if not 2 <= len(core) <= 5:
            continue
        syl = places._syllables(core)
        if len(syl) != len(core):
            continue
        rows, sims = _plain_search(idx, syl, families, 0.7)
        group = idx.groups.get(len(syl))
        for i, sim in zip(rows, sims, strict=True):
            level, code, short, full = group.level[i], group.code[i], group.short[i], group.full[i]
            if short == core:
                continue
            if level == "township" and not context and sim < 0.85:
                continue
            ratio = fuzz.ratio(core, short) / 100.0
            ev = 0.55 * sim + 0.15 * ratio
            if suffix and full.endswith(suffix):
                ev += 0.08
            elif suffix in ("县", "市", "区", "旗") and level == "township":
                ev -= 0.1
            elif suffix in ("镇", "乡", "街道") and level != "township":
                ev -= 0.1
            cand_county = code if level in ("county", "township") else None
            pref = g.cur_info[code]["prefecture_code"] if cand_county else code
            if context and (code[:2] + "0000" in context or pref in context or code in context):
                ev += 0.15
            elif level == "township" and not context:
                ev -= 0.1
            found.append((ev, level, code, full, sim, chunk, syl))
    found.sort(key=lambda f: -f[0])
    return [("county" if level in ("county", "township") else "prefecture", code, ev,
             full if level == "township" else None, f"{chunk}~{full} ({' '.join(syl)}, sim {sim:.2f})")
            for ev, level, code, full, sim, chunk, syl in found[:limit]]


_CHUNKS = ["邻水", "临水镇", "瑶池县", "湖州", "福州市", "主猫鸭", "南宁", "兰宁", "黄陂区", "长沙", "常沙乡",
           "岳池", "一渡水", "石家庄", "张家界市", "老家在湖州", "北京", "葫芦岛", "浏阳", "牛阳", "山", "西安街道",
           "呼和浩特", "呼和浩特市", "乌鲁木齐", "香格里拉县", "东乡", "新开", "黄乃亥", "涂家垴", "大诚"]
_CONTEXTS = [set(), {"511623"}, {"330000"}, {"430100", "510000"}, {"350100"}, {"410000", "411600", "411627"}]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_CHUNKS), min_size=1, max_size=4, unique=True), st.sampled_from(_CONTEXTS),
       st.sampled_from(FAMILY_SETS), st.sampled_from([30, 5, 1]))
def test_sound_candidates_equal_the_readings_scored_one_by_one(chunks, context, families, limit):
    g = places._gaz()
    got = [(c.level, c.code, c.evidence, c.township, c.parts[0][1])
           for c in places._sound_candidates(chunks, context, g, families, limit)]
    assert all(c.sound for c in places._sound_candidates(chunks, context, g, families, limit))
    assert got == _plain_sound_candidates(chunks, context, g, families, limit)


def test_sound_candidates_find_the_dialect_reading():
    # 湖州 ~ 福州 under the f/h merger, the exact name itself left to the exact stage
    g = places._gaz()
    found = places._sound_candidates(["湖州"], set(), g, ("f_h",))
    names = [c.parts[0][1] for c in found]
    assert any("福州" in name for name in names)
    assert not any(name.startswith("湖州~湖州") for name in names)


def _plain_fragment_rows(chars):
    """Each county's first strongest name holding ``chars``, from the plain index ``names_by_char``, in a loop."""
    best, top_code, top_evidence = {}, None, 0.0
    for level, code, name, short in names_by_char().get(chars, ()):
        evidence = (0.35 if level == "county" else 0.25) + (0.05 if short.startswith(chars) else 0)
        if code not in best or evidence > best[code][0]:
            best[code] = (evidence, level, name)
        if top_code is None or evidence > top_evidence:
            top_code, top_evidence = code, evidence
    return tuple((code, *kept) for code, kept in best.items()), top_code


def test_fragment_rows_equal_the_loop_over_the_gazetteers_names():
    chars = sorted(names_by_char())
    sample = chars[::5] + list("山河新东城关镇一水湖") + ["猫", "㐀", "", "ab", "邻水"]
    for char in sample:
        assert places._fragment_rows(char) == _plain_fragment_rows(char), char


@pytest.mark.parametrize("text, area", [("邻水县", None), ("瑶池县", "SW_Man"), ("湖州", "Min"), ("山", None),
                                        ("带邻字", None), ("河南省周口市太康县十里铺村", "N_Man"), ("主猫鸭", None),
                                        ("", None), ("北京", "Wu")])
def test_candidate_counties_are_the_county_readings_of_place_candidates(text, area):
    frame = places.place_candidates(text, k=5, accent_area=area)
    want = [(code, float(score)) for code, score in zip(frame["county_code"], frame["score"], strict=True)
            if code is not None]
    assert places.candidate_counties(text, k=5, accent_area=area) == want


@pytest.mark.parametrize("text", list("山河新邻湖猫㐀") + ["山。", "“河", "㍻", "", " ", "1"])
def test_a_character_reads_the_same_under_every_dialect_area(text):
    # candidate_counties reads a text of one character once, whatever the area
    for area in (None, "Min", "N_Man", "SW_Man", "Wu", "Yue", "Xiang", "Gan", "P_T", "JH_Man"):
        assert places.candidate_counties(text, k=5, accent_area=area) == \
            places._county_readings(text, 5, area), area


def _golden_texts() -> list[str]:
    import pandas as pd
    from test_places_share import GOLDEN

    return pd.read_csv(GOLDEN, dtype=str, keep_default_na=False)["text"].tolist()


def test_texts_scanned_together_give_the_hits_of_the_trie():
    # the golden texts and pieces of them (statement fragments are short), scanned text by text on
    # a fresh gazetteer (the trie filled as each text is met) and all at once
    texts = _golden_texts()
    texts += [text[i:i + 3] for text in texts[::7] for i in range(0, len(text), 2)]
    cleaned = list(dict.fromkeys(s for s in map(places._clean, texts) if len(s) >= 2))
    g = places._Gazetteer()
    together = places._hits_together(cleaned, g)
    assert len(cleaned) > 2_000 and sum(map(len, together.values())) > 3_000
    # a key of several readings kept in part (城关镇 under a county), and a text holding none
    assert any(len(hits) > 1 for hits in together.values()) and any(not hits for hits in together.values())
    assert {s: list(hits) for s, hits in together.items()} == {s: places._scan(s, g) for s in cleaned}


def test_readings_within_a_scan_together_equal_those_without():
    fragments = ["邻水县", "瑶池县", "湖州", "山", "带邻字", "主猫鸭", "城关镇", "周口太康", "河南", "东区", "襄樊",
                 "", "不详", "红旗公社", "北京朝阳"] * 5
    areas = [None, "Min", "SW_Man", "N_Man", "Wu"] * 15
    without = [places.candidate_counties(f, k=5, accent_area=a) for f, a in zip(fragments, areas, strict=True)]
    places._SCAN_TOGETHER_MIN, minimum = 2, places._SCAN_TOGETHER_MIN
    try:
        with places.scanning_together(fragments):
            assert len(places._SCANNED) >= 10
            within = [places.candidate_counties(f, k=5, accent_area=a) for f, a in zip(fragments, areas, strict=True)]
    finally:
        places._SCAN_TOGETHER_MIN = minimum
    assert within == without and not places._SCANNED


def test_every_character_reads_as_the_full_reading_says():
    # _one_character_counties ranks a character's fragment readings without _candidates: the same
    # readings as _candidates gives, for every character of the names, fillers and blanks
    chars = sorted(places._fragment_names().bounds)
    assert len(chars) > 3_000
    for text in chars + ["是", "在", "说", "无", "1", "", "山。", "“河", "㍻", "|"]:
        for k in (5, 30):
            assert places._one_character_counties(text, k) == tuple(places._county_readings(text, k, None)), text
