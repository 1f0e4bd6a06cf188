"""The share path of ``parse_places`` (texts scanned and their county readings scored together in
arrays: ``places._score_share``) reads every text as the text-by-text parser does."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.normalize import places

GOLDEN = Path(__file__).parent / "golden" / "place_readings.csv.gz"
# parse_places' columns and the golden file's fields they hold
COLUMNS = {"province": "province_code", "prefecture": "prefecture_code", "county": "county_code",
           "township": "township", "village": "village", "lon": "lon", "lat": "lat", "place_score": "score",
           "place_old": "old", "place_matched_by": "matched_by"}
GOLDEN_FIELDS = ["province_code", "prefecture_code", "county_code", "township", "village", "name", "lon", "lat",
                 "score", "old", "matched_by"]


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _in_shares(texts: list, areas: list | None = None, share: int = 256) -> pd.DataFrame:
    """``parse_places`` share by share, as the batch reads the reports' places, the cache cleared."""
    places._parse_cached.cache_clear()
    frames = []
    for start in range(0, len(texts), share):
        values = pd.Series(texts[start:start + share], dtype=object)
        accent = None if areas is None else pd.Series(areas[start:start + share], dtype=object)
        frames.append(places.parse_places(values, accent_areas=accent))
    return pd.concat(frames, ignore_index=True)


def _one_by_one(texts: list, areas: list | None = None) -> pd.DataFrame:
    places._parse_cached.cache_clear()
    rows = [places.parse_place(text, accent_area=None if areas is None else areas[i])
            for i, text in enumerate(texts)]
    return pd.DataFrame({column: [getattr(m, field) for m in rows] for column, field in COLUMNS.items()})


def test_shares_read_the_golden_texts_as_written():
    golden = pd.read_csv(GOLDEN, dtype=str, keep_default_na=False)
    golden = golden[golden["kind"] == "text"].reset_index(drop=True)
    areas = [a or None for a in golden["area"]]
    out = _in_shares(golden["text"].tolist(), areas)
    expected = golden["reading"].str.split("|", expand=True)
    expected.columns = GOLDEN_FIELDS
    # parse_places' float columns hold plain floats (a province's coordinates are numpy's in PlaceMatch)
    expected = expected.apply(lambda column: column.str.replace(r"^np\.float64\((.*)\)$", r"\1", regex=True))
    for column, field in COLUMNS.items():
        now = [repr(v) if isinstance(v, float) else _text(v) for v in out[column]]
        changed = [(t, e, n) for t, e, n in zip(golden["text"], expected[field], now, strict=True) if e != n]
        assert not changed, f"{column}: {len(changed)} readings differ, e.g. {changed[:3]}"


def test_share_scan_equals_the_scan():
    golden = pd.read_csv(GOLDEN, dtype=str, keep_default_na=False)
    g = places._gaz()
    cleaned = [s for s in map(places._clean, golden["text"]) if s]
    for start in range(0, len(cleaned), 300):
        share = cleaned[start:start + 300]
        hits = places._share_hits(share, g)
        found = [[] for _ in share]
        for text, begin, end, row, kind in zip(hits.text.tolist(), hits.start.tolist(), hits.end.tolist(),
                                               hits.row.tolist(), hits.kind.tolist(), strict=True):
            entry = g.row_entry(row)._replace(kind=places._KINDS[kind])
            found[text].append(places._Hit(begin, end, entry))
        assert found == [places._scan(s, g) for s in share]


def test_share_with_blanks_repeats_and_two_accent_areas():
    texts = (["湖州", "湖州", None, "", "不详", float("nan"), "河南省周口市太康县十里铺村", "邻水", "一渡水",
              "四川省西区", "保定市顺平县白云镇附近", "凯里市街头", "襄樊", "崇文区", "太康十里铺", "东区"] * 3)
    areas = ["Min", None] + [None] * (len(texts) - 2)
    pd.testing.assert_frame_equal(_in_shares(texts, areas), _one_by_one(texts, areas), check_dtype=False)


@pytest.fixture(scope="module")
def pieces() -> list[str]:
    keys = places._gaz()._names
    return keys[::97] + ["附近", "村", "镇", "县", "第三生产队", "公社", "大队", "老家", "火车站", "|", " ", "0"]


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_shares_equal_the_parser_on_made_up_addresses(pieces, data):
    _assert_shares_read_as_the_parser(data, pieces, shortest=1)


def _assert_shares_read_as_the_parser(data, pool: list[str], shortest: int) -> None:
    """Addresses made of ``shortest`` to five pieces drawn from ``pool``, read in shares of 20 and one by one."""
    texts = data.draw(st.lists(st.lists(st.sampled_from(pool), min_size=shortest, max_size=5).map("".join),
                               min_size=16, max_size=40))
    pd.testing.assert_frame_equal(_in_shares(texts, share=20), _one_by_one(texts), check_dtype=False)


@pytest.fixture(scope="module")
def village_pieces() -> list[str]:
    """County names and village names (whole, without their suffix, cut short, two run together)
    of a spread of counties: the pieces of addresses that name villages."""
    g = places._gaz()
    out = []
    for code in places.load_table("villages")["county_code"].tolist()[::150]:
        info = g.cur_info[code]
        out += [info["name"], info["province"] + info["name"]]
        names = places._village_names_of(code, g).split("|")[::40]
        for name in names:
            out += [name, name[:-1], name[:-2], name[:2], name + "附近"]
        out.append(names[0] + names[-1])
    return out + ["村", "社区", "委会", "居委会", "村民委员会", "|", "镇"]


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_shares_read_villages_as_the_parser(village_pieces, data):
    _assert_shares_read_as_the_parser(data, village_pieces, shortest=2)


def _village_texts() -> list[str]:
    g = places._gaz()
    texts = []
    for code in places.load_table("villages")["county_code"].tolist()[::37]:
        info = g.cur_info[code]
        names = places._village_names_of(code, g).split("|")
        for i in range(0, len(names) - 1, 25):
            texts += [info["name"] + names[i], info["name"] + names[i][:-1] + "|" + names[i + 1],
                      info["province"] + info["name"] + names[i + 1][:3] + names[i]]
    return texts


def test_village_lookups_equal_without_the_village_table(monkeypatch):
    texts = _village_texts()
    shared, one_by_one = _in_shares(texts), _one_by_one(texts)
    assert shared["village"].notna().mean() > 0.5
    monkeypatch.setattr(places, "_village_keys", lambda: None)
    pd.testing.assert_frame_equal(_in_shares(texts), shared)
    pd.testing.assert_frame_equal(_one_by_one(texts), shared, check_dtype=False)
    pd.testing.assert_frame_equal(_one_by_one(texts), one_by_one)


def test_a_texts_pieces_hash_as_the_village_table():
    g = places._gaz()
    keys = places._village_keys()
    checked = 0
    for code in places.load_table("villages")["county_code"].tolist()[::45]:
        found = [key for key in places._Gazetteer.villages_of.__wrapped__(g, code)
                 if 2 <= len(key) <= places._VILLAGE_PIECE_MAX]
        values = np.array([h | (int(code) << 32) for key in found for h in places._piece_hashes([key])[:1]])
        assert np.isin(values, keys).all()
        checked += len(values)
    assert checked > 10_000
    # the pieces in _villages_in's order: chunk by chunk, longest first, left to right
    pieces = ["甲乙丙", "丁戊"]
    one_each = [places._piece_hashes([piece])[0] for piece in ["甲乙丙", "甲乙", "乙丙", "丁戊"]]
    assert places._piece_hashes(pieces) == one_each


def test_a_piece_that_shares_a_villages_hash_is_not_that_village(monkeypatch):
    # every piece of a text is "found" in every county (its hash left out of the value): the
    # county's names alone must say which piece, if any, is a village there, and the first such
    # piece in the parser's order is the one read
    texts = _village_texts()
    shared = _in_shares(texts)
    counties = np.array(sorted({int(c) for c in places._gaz().cur_info}), dtype=np.int64)
    monkeypatch.setattr(places, "_village_keys", lambda: counties << 32)
    monkeypatch.setattr(places, "_village_lookups", lambda state, county: county.astype(np.int64) << 32)
    pd.testing.assert_frame_equal(_in_shares(texts), shared)


def test_village_named_reads_each_county_as_its_village_dict():
    g = places._gaz()
    counties = places.load_table("villages")["county_code"].tolist()
    checked = 0
    for code in counties[::60] + ["411627"]:
        villages = places._Gazetteer.villages_of.__wrapped__(g, code)
        for key, full in villages.items():
            if 2 <= len(key) <= places._VILLAGE_PIECE_MAX:
                assert places._village_named(code, key) == (full, "full" if key == full else "short"), key
                checked += 1
        names = places._village_names_of(code, g).split("|")
        for text in names[::5] + ["".join(names[:8])]:
            for n in range(2, places._VILLAGE_PIECE_MAX + 1):
                for start in range(len(text) - n + 1):
                    piece = text[start:start + n]
                    if piece not in villages:
                        assert places._village_named(code, piece) is None, piece
    assert checked > 10_000
    assert places._village_named("999999", "王庄") is None
