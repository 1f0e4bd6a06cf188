"""The names' readings and keys made the short way equal the slow obvious way: the character
readings read from the built ``char_reading_cells`` table, the variants enumerated, the usual
pinyin, and the dialect folds of the keys (synthetic names: a simulation and made-up ones)."""

from __future__ import annotations

import itertools
import warnings

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch import data
from kinmatch.datasets import simulate
from kinmatch.normalize import name_text, names, phonetics

AREAS = [None, "N_Man", "N_Man_NE", "SW_Man", "JH_Man", "Wu", "Yue", "Min", "Hakka", "Gan", "Xiang", "P_T"]


@pytest.fixture(scope="module")
def simulated_names() -> list[str]:
    sim = simulate(n_missing=1_500, n_residents=150, seed=3)
    pool = pd.concat([sim.missing["name"], sim.residents["name"]]).dropna().unique().tolist()
    made_up = ["龚小明", "咸丰", "谢江", "胡春花", "单长乐行", "尉迟恭", "欧阳建国", "蕭廖美玉", "区志明", "熊霞",
               "阿卜杜拉·买买提", "Chan Tai Man", "老王", "小红", "张王氏", "江", "家佳", "解缙", "乐嘉", "曾国藩"]
    return made_up + pool


def _csv_rows() -> dict[str, tuple]:
    table = data.load_table("char_readings")
    return dict(zip(table["char"].tolist(), zip(table["mandarin"].tolist(), table["jyutping"].tolist(),
                                                table["hk_roman"].tolist(), strict=True), strict=True))


def _split(value) -> tuple[str, ...]:
    return tuple(value.split(";")) if isinstance(value, str) and value else ()


def test_the_shipped_char_reading_cells_equal_what_the_builder_computes():
    table = phonetics.CHAR_READING_CELLS
    shipped = data.read_built(table.name, table.stamp())
    assert shipped is not None, "char_reading_cells.parquet is stale or missing: tools/build_data.py --only built"
    computed = table.compute()
    assert len(computed) == 1 and len(computed.loc[0, "chars"]) > 40_000
    pd.testing.assert_frame_equal(shipped, computed)


def test_every_character_reads_as_its_row_of_char_readings():
    rows = _csv_rows()
    for char, (mandarin, jyutping, hk_roman) in rows.items():
        assert phonetics._char_readings(char) == (_split(mandarin), _split(jyutping), _split(hk_roman)), char
    for absent in ("", "A", "·", "张三", "\U0010ffff", "\x00"):
        assert absent not in rows and phonetics._char_readings(absent) == ((), (), ())


def test_a_stale_cells_file_gives_the_same_readings(monkeypatch):
    chars = ["单", "乐", "江", "霞", "龚", "咸", "区", "A"]
    expected = [phonetics._char_readings(c) for c in chars]
    syllables = phonetics._pinyin_syllables()
    monkeypatch.setattr(data, "_read_arrow", lambda *args, **kwargs: None)
    for cached in (phonetics._char_cells, phonetics._char_readings, phonetics._pinyin_syllables):
        cached.cache_clear()
    try:
        with pytest.warns(UserWarning, match="char_reading_cells.parquet is out of date"):
            assert [phonetics._char_readings(c) for c in chars] == expected
        assert phonetics._pinyin_syllables() == syllables and len(syllables) > 300
    finally:
        monkeypatch.undo()
        for cached in (phonetics._char_cells, phonetics._char_readings, phonetics._pinyin_syllables):
            cached.cache_clear()


def _enumerate_slowly(options, limit):
    """Every departure count, every set of positions, every product: the order the variants take."""
    options = [opts for opts in options if opts]
    if not options or limit <= 0:
        return []
    out = []
    for departures in range(len(options) + 1):
        for positions in itertools.combinations(range(len(options)), departures):
            choices = [opts[1:] if i in positions else opts[:1] for i, opts in enumerate(options)]
            for combo in itertools.product(*choices):
                out.append(tuple(s for unit in combo for s in unit))
                if len(out) >= limit:
                    return out
    return out


_UNIT_OPTIONS = st.lists(st.lists(st.lists(st.sampled_from(["a", "b", "zh", "ng"]), min_size=1, max_size=2)
                                  .map(tuple), max_size=4).map(tuple), max_size=5)


@settings(max_examples=400, deadline=None)
@given(options=_UNIT_OPTIONS, limit=st.sampled_from([0, 1, 2, 3, 6, 8, 30]))
def test_variants_enumerate_in_the_slow_order(options, limit):
    assert phonetics._enumerate(options, limit) == _enumerate_slowly(options, limit)


def test_the_usual_pinyin_is_the_first_variant_under_every_area(simulated_names):
    assert len(simulated_names) > 1_000
    for name in simulated_names:
        norm = name_text.clean_name(name)
        if not norm or phonetics.is_latin_name(norm):
            continue
        for area in (None, "Wu", "SW_Man"):
            variants = phonetics._variants(norm, area, phonetics.DEFAULT_MAX_VARIANTS)
            assert phonetics.name_pinyin(name) == (" ".join(variants[0]) if variants else ""), (name, area)


def _keys_slowly(norm: str, area: str | None, resident: bool) -> tuple[str, ...]:
    """name_keys with every fold set tried on every variant, kept where one of its operations
    changes some syllable."""
    if not norm:
        return ()
    if phonetics.is_latin_name(norm):
        return phonetics.latin_keys(norm)
    variants = phonetics._variants(norm, area, phonetics.DEFAULT_MAX_VARIANTS)
    keys = [" ".join(v) for v in variants]
    for variant in variants:
        for ops in phonetics._key_fold_sets(area, resident):
            if any(phonetics.fold_syllable(s, (op,)) != s for s in variant for op in ops):
                keys.append(" ".join(phonetics.fold_syllable(s, ops) for s in variant))
    if name_text.is_minority(norm):
        key = phonetics.minority_key(norm)
        skeleton = "".join(c for c in key if c not in "aeiouvyw")
        keys += [key, skeleton] if len(skeleton) >= 4 else [key]
    if area is None or area == "Yue":
        keys += phonetics.hk_roman_keys(norm, max_variants=6)
    return tuple(dict.fromkeys(k for k in keys if k))


@pytest.mark.parametrize("side", [None, "resident"])
def test_keys_equal_every_fold_set_tried_on_every_variant(simulated_names, side):
    resident = side == "resident"
    folded = 0
    for name in simulated_names[:1_200]:
        norm = name_text.clean_name(name)
        for area in AREAS:
            keys = phonetics.name_keys(name, area, side=side)
            assert keys == _keys_slowly(norm, area, resident), (name, area, side)
            folded += len(keys) > len(phonetics._variants(norm, area, 8)) if norm else 0
    assert folded > 1_000  # the folds were exercised


def test_name_columns_of_a_simulation_equal_the_columns_made_name_by_name(simulated_names):
    frame = pd.DataFrame({"name": simulated_names[:800], "area": (AREAS * 100)[:800]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        columns = names.name_columns(frame["name"], area=frame["area"], side="resident")
    for row, (name, area) in enumerate(zip(frame["name"], frame["area"], strict=True)):
        parsed = names.parse_name(name)
        expected_keys = phonetics.name_keys(name, area, side="resident") if parsed.evidence else ()
        assert columns.loc[row, "name_keys"] == expected_keys
        assert columns.loc[row, "name_pinyin"] == (phonetics.name_pinyin(name) or None)
        assert columns.loc[row, "name_jyutping"] == (phonetics.jyutping(name) or None)
