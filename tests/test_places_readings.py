"""Place readings stay what they were when ``golden/place_readings.csv.gz`` was written, and the
shortcuts of the place parser equal the plain computations they replace.

The golden file holds ~3,700 texts: report places of a simulated million (``simulate(1_000_000,
12_000, seed=7)``'s 走失地点 and 户籍地), addresses made up from gazetteer pieces with old names,
fragments, village names, fillers, duplicated and contradicting levels, and the place fragments of
simulated residents' statements with their dialect areas; with every field of ``parse_place`` and
``candidate_counties`` (top 5) of each. A change of the readings on purpose regenerates the readings
(the texts stay) and says so in its commit, from the repository root:

    PYTHONPATH=$PWD python tests/test_places_readings.py --write
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from places_oracle import names_by_char

from kinmatch.normalize import places

GOLDEN = Path(__file__).parent / "golden" / "place_readings.csv.gz"
FIELDS = ["province_code", "prefecture_code", "county_code", "township", "village", "name", "lon", "lat",
          "score", "old", "matched_by"]


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def readings(texts: pd.DataFrame) -> pd.DataFrame:
    """Every field of ``parse_place`` (kind ``text``) or the top 5 of ``candidate_counties`` (kind
    ``fragment``, with its dialect area) of each row, as text (floats by ``repr``)."""
    rows = []
    for kind, text, area in zip(texts["kind"], texts["text"], texts["area"], strict=True):
        area = area if isinstance(area, str) and area else None
        if kind == "text":
            match = places.parse_place(text, accent_area=area)
            rows.append(["|".join(repr(v) if isinstance(v, float) else _text(v)
                                  for v in (getattr(match, f) for f in FIELDS))])
        else:
            found = places.candidate_counties(text, k=5, accent_area=area)
            rows.append([";".join(f"{code}:{score!r}" for code, score in found)])
    return pd.DataFrame(rows, columns=["reading"])


def write() -> None:
    texts = pd.read_csv(GOLDEN, dtype=str, keep_default_na=False)[["kind", "text", "area"]]
    pd.concat([texts, readings(texts)], axis=1).to_csv(GOLDEN, index=False)


@pytest.fixture(scope="module")
def golden() -> pd.DataFrame:
    return pd.read_csv(GOLDEN, dtype=str, keep_default_na=False)


def test_readings_unchanged(golden):
    now = readings(golden)
    changed = golden.loc[golden["reading"] != now["reading"], ["kind", "text", "area", "reading"]]
    changed = changed.assign(now=now.loc[changed.index, "reading"])
    assert changed.empty, f"{len(changed)} of {len(golden)} readings changed:\n{changed.head(10).to_string()}"


def test_golden_covers_the_parser_paths(golden):
    kinds = golden["reading"].str.split("|").str[-1]
    text = golden["kind"] == "text"
    for path in ("county_full", "township_full", "village_", "prefecture", "_old", "sound", "fragment"):
        assert kinds[text].str.contains(path).any() or path == "fragment", path
    assert (golden["kind"] == "fragment").sum() >= 500
    assert golden.loc[golden["kind"] == "fragment", "text"].str.len().eq(1).sum() >= 100


def test_no_gazetteer_key_has_one_character():
    # the scanner starts its walk at two characters (places._scan)
    keys = places.GAZETTEER_KEYS.columns()["key"]
    assert min(map(len, keys)) >= 2


# -- _rank: the per-value path and the one-candidate shortcut against the plain formula ----------

def _rank_plain(cands):
    """The ranking written out plainly: one reading per (level, code, township of a sound reading),
    the first of the strongest; shares of exp(6 · (evidence − top)); sound readings are
    alternatives, capped below the weakest exact reading."""
    best = {}
    for c in cands:
        key = (c.level, c.code, c.township if c.sound else None)
        if key not in best or c.evidence > best[key].evidence:
            best[key] = c
    ordered = sorted(best.values(), key=lambda c: -c.evidence)
    top = ordered[0].evidence
    share = [math.exp(6.0 * (c.evidence - top)) for c in ordered]
    any_exact = any(not c.sound for c in ordered)
    denom = 0
    for c, sh in zip(ordered, share, strict=True):
        if not c.sound or not any_exact:
            denom += sh
    out = []
    for c, sh in zip(ordered, share, strict=True):
        strength = min(1.0, max(0.0, 0.1 + 0.8 * c.evidence))
        p = min(1.0, sh) * 0.6 if c.sound and any_exact else min(1.0, sh / denom)
        out.append([c, float(strength * p)])
    if any_exact:
        floor = min(score for c, score in out if not c.sound)
        for item in out:
            if item[0].sound:
                item[1] = min(item[1], 0.9 * floor)
    out = [(c, round(score, 4)) for c, score in out]
    return sorted(out, key=lambda item: -item[1])


_cand = st.builds(
    lambda level, code, evidence, sound, town: places._Cand(level, code, evidence, [], town if sound else None,
                                                            sound=sound),
    st.sampled_from(["county", "prefecture"]), st.sampled_from([f"4{i:05d}" for i in range(40)]),
    st.sampled_from([0.25, 0.3, 0.35, 0.4, 0.55, 0.85, 1.0, 1.6, 2.25]) | st.floats(0, 2.5), st.booleans(),
    st.sampled_from(["甲镇", "乙乡", None]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_cand, min_size=1, max_size=60))
def test_rank_equals_the_plain_formula(cands):
    got = [(c.level, c.code, c.township, c.evidence, c.sound, score) for c, score in places._rank(cands)]
    want = [(c.level, c.code, c.township, c.evidence, c.sound, score) for c, score in _rank_plain(cands)]
    assert got == want


# -- fragments: one candidate per county, as the ranking keeps them ------------------------------

def _fragment_plain(chars: str) -> list:
    """Every county and township name holding ``chars`` as its own candidate (the plain list)."""
    out = []
    for level, code, name, short in names_by_char().get(chars, ()):
        bonus = 0.05 if short.startswith(chars) else 0
        c = places._Cand("county", code, (0.35 if level == "county" else 0.25) + bonus,
                         [("fragment", f"{chars} in {name}")])
        if level != "county":
            c.township = name
        out.append(c)
    return out


@pytest.mark.parametrize("chars", list("邻水山河湖新东城关镇一") + ["猫", "㐀"])
def test_fragments_rank_as_the_plain_list(chars):
    plain = _fragment_plain(chars)
    deduped, top = places._fragment_candidates(chars, places._gaz())
    as_rows = [(c.code, c.township, c.evidence, c.parts, score) for c, score in places._rank(plain)] if plain else []
    assert [(c.code, c.township, c.evidence, c.parts, score) for c, score in places._rank(deduped)] == as_rows \
        if deduped else not plain
    # the first of the strongest names overall: the reading village sound matching starts from
    first = max(plain, key=lambda c: c.evidence, default=None)
    assert (top is None) == (first is None)
    if first is not None:
        assert (top.code, top.township, top.evidence, top.parts) == (first.code, first.township, first.evidence,
                                                                     first.parts)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write()
