"""Built reference tables (``kinmatch.data.BuiltTable``): the shipped Parquet files equal what
their builders compute from the shipped tables, a stale file is detected, and a run with a stale
file gives the same readings as one with a fresh file."""

from __future__ import annotations

import shutil
import warnings

import pandas as pd
import pytest

from kinmatch import data
from kinmatch.normalize import places, text


@pytest.fixture(autouse=True)
def _fresh_digests():
    data._file_digest.cache_clear()
    yield
    data._file_digest.cache_clear()


def test_every_built_table_is_shipped_and_fresh():
    assert {"char_pinyin", "gazetteer_keys", "key_pinyin", "pinyin_phrases", "sound_names", "village_keys",
            "village_names", "village_pinyin"} <= set(data.BUILT)
    for name, table in data.BUILT.items():
        assert data.read_built(name, table.stamp()) is not None, f"{name}.parquet is stale or missing"


@pytest.mark.parametrize("name", ["char_pinyin", "gazetteer_keys", "pinyin_phrases", "sound_names", "village_keys",
                                  "village_names"])
def test_the_shipped_table_equals_what_its_builder_computes(name):
    table = data.BUILT[name]
    shipped = data.read_built(name, table.stamp())
    computed = table.compute()
    assert len(computed) > 1_000
    pd.testing.assert_frame_equal(shipped, computed)


def test_the_shipped_village_pinyin_equals_the_builder_on_a_spread_of_counties():
    # the whole table takes the builder about a minute (pypinyin on 1.2 million names): every
    # 40th county here, the first and the last included
    shipped = data.read_built("village_pinyin", places.VILLAGE_PINYIN.stamp())
    counties = shipped["county_code"].tolist()
    sample = counties[::40] + counties[-1:]
    computed = places._village_pinyin(sample)
    expected = shipped.set_index("county_code").loc[sample].reset_index()
    assert len(sample) > 50 and computed["syllables"].str.len().sum() > 100_000
    pd.testing.assert_frame_equal(computed, expected)


def test_the_gazetteer_read_from_the_built_table_equals_the_one_computed(monkeypatch):
    from_file = places._Gazetteer()
    monkeypatch.setattr(data, "_read_arrow", lambda *args, **kwargs: None)
    with pytest.warns(UserWarning, match="gazetteer_keys.parquet is out of date"):
        computed = places._Gazetteer()
    assert len(from_file.index) > 50_000
    assert list(from_file.index.items()) == list(computed.index.items())
    assert from_file.fill_trie() == computed.fill_trie()


def test_the_trie_filled_character_by_character_equals_the_trie_filled_at_once():
    import random

    whole = places._Gazetteer().fill_trie()
    gradual = places._Gazetteer()
    chars = sorted({key[0] for key in gradual.index})
    random.Random(5).shuffle(chars)
    for start in range(0, len(chars), 97):
        gradual.fill_trie(chars[start:start + 97])
    assert len(whole) > 100_000
    assert gradual.trie == whole
    # the proper prefixes: every one is in the trie with "a longer key can follow"
    assert all(whole[key[:i]][1] for key in gradual.index for i in range(1, len(key)))


def test_villages_read_by_row_group_equal_the_villages_table(monkeypatch):
    g = places._gaz()
    villages = data.load_table("villages")
    counties = villages["county_code"].tolist()
    assert places._village_name_groups() is not None and len(counties) > 2_000
    by_group = {county: places._village_names_of(county, g) for county in counties}
    assert by_group == dict(zip(counties, villages["names"], strict=True))
    assert places._village_names_of("999999", g) == ""
    sample = counties[::50] + ["411627", "999999"]
    built = {county: places._Gazetteer.villages_of.__wrapped__(g, county) for county in sample}
    monkeypatch.setattr(places, "_village_name_groups", lambda: None)
    assert {county: places._Gazetteer.villages_of.__wrapped__(g, county) for county in sample} == built
    assert sum(map(len, built.values())) > 10_000


def test_village_syllables_without_the_built_table_are_the_same(monkeypatch):
    g = places._gaz()
    counties = ["411627", "511623", "110101", "650102"]
    built = {(c, n): g.village_syllables.__wrapped__(g, c, n) for c in counties for n in (2, 3, 4)}
    assert sum(len(v) for v in built.values()) > 100
    monkeypatch.setattr(places, "_village_pinyin_groups", lambda: None)
    assert all(g.village_syllables.__wrapped__(g, c, n) == rows for (c, n), rows in built.items())


def test_a_changed_input_table_makes_the_shipped_table_stale(monkeypatch, tmp_path):
    table = places.GAZETTEER_KEYS
    fresh = table.stamp()
    original = data.table_file("place_history")
    edited = tmp_path / "place_history.csv.gz"
    shutil.copyfile(original, edited)
    with open(edited, "ab") as fh:
        fh.write(b"\0")  # one byte more: a rebuilt input table

    monkeypatch.setattr(data, "table_file", lambda name: edited if name == "place_history" else
                        data.resources.files(data.__name__) / f"{name}.csv.gz")
    data._file_digest.cache_clear()
    assert table.stamp() != fresh
    assert data.read_built("gazetteer_keys", table.stamp()) is None
    with pytest.warns(UserWarning, match="out of date.*tools/build_data.py --only built"):
        assert table.read() is None


def test_a_changed_recipe_makes_the_shipped_table_stale(tmp_path):
    shutil.copyfile(data.built_path("sound_names"), tmp_path / "sound_names.parquet")
    stale = data.BuiltTable("sound_names_test", places.SOUND_NAMES.inputs, lambda: "another pypinyin",
                            places.SOUND_NAMES.compute)
    data.BUILT.pop("sound_names_test")
    assert data.read_built("sound_names", stale.stamp(), tmp_path) is None
    assert data.read_built("sound_names", places.SOUND_NAMES.stamp(), tmp_path) is not None


def test_a_missing_built_table_is_computed_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="sound_names.parquet is missing"):
        frame = places.SOUND_NAMES.load(folder=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shipped = places.SOUND_NAMES.load()
    pd.testing.assert_frame_equal(frame, shipped)


def test_write_then_read_keeps_the_fingerprint(tmp_path):
    frame = pd.DataFrame({"key": ["太康", "邻水"], "n": [1, 2]})
    data.write_built("demo", frame, "stamp-1", tmp_path)
    pd.testing.assert_frame_equal(data.read_built("demo", "stamp-1", tmp_path), frame)
    assert data.read_built("demo", "stamp-2", tmp_path) is None


@pytest.mark.parametrize("char", ["单", "乐", "曾", "區", "㐀", "𠀀", "A", "〇"])
def test_a_characters_default_pinyin_is_pypinyins(char):
    from pypinyin import Style, lazy_pinyin

    expected = lazy_pinyin(char, style=Style.NORMAL, errors=lambda _: [""])[0] if text.is_han(char) else ""
    assert text.char_default_pinyin(char) == expected


def test_columns_of_a_missing_built_table_are_computed_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="char_pinyin.parquet is missing"):
        computed = text.CHAR_PINYIN.columns(folder=tmp_path)
    with pytest.warns(UserWarning, match="char_pinyin.parquet is missing"):
        assert text.CHAR_PINYIN.columns(folder=tmp_path, compute=False) is None
    assert computed == text.CHAR_PINYIN.columns()


def test_han_pinyin_equals_pypinyin_on_phrases_place_names_and_random_text():
    import random

    from pypinyin import Style, lazy_pinyin
    from pypinyin.constants import PHRASES_DICT

    from kinmatch.data import load_table

    towns = load_table("townships")
    villages = "|".join(load_table("villages")["names"].iloc[::50]).split("|")
    chars = load_table("common_chars")["char"].tolist()
    rng = random.Random(13)
    noise = ["".join(rng.choices(chars, k=rng.randint(1, 9))) for _ in range(20_000)]
    # every phrase pypinyin knows also embedded in other text (重庆 in 老家重庆綦江)
    embedded = [rng.choice(chars) + phrase + rng.choice(chars) for phrase in list(PHRASES_DICT)[::5]]
    # ASCII among the characters (pypinyin drops it; it ends a run of Han characters)
    ascii_chars = [chr(code) for code in range(128)]
    mixed = ["".join(rng.choices(chars + ascii_chars, k=rng.randint(1, 9))) for _ in range(5_000)]
    mixed += [rng.choice(ascii_chars) + phrase + rng.choice(ascii_chars) for phrase in list(PHRASES_DICT)[::50]]
    texts = [*PHRASES_DICT, *embedded, *towns["name"], *villages, *noise, *mixed, "〇", "12号", "䷀䷁", "",
             "八五0农场", "A区3号", "x重庆y", "12都江堰", "abc", " "]
    assert len(texts) > 100_000
    differing = [t for t in texts if text.han_pinyin(t) != lazy_pinyin(t, style=Style.NORMAL, errors="ignore")]
    assert differing == []


def test_the_gazetteer_keys_with_names_simplified_at_once_equal_one_by_one(monkeypatch):
    # the builder converts ~100k names to simplified in one OpenCC call; one call per name is the
    # slow obvious reference (this is what tests/test_index.py checked before the index was built)
    at_once = places._gazetteer_keys()
    monkeypatch.setattr(places, "_simplified_all", lambda texts: {})
    one_by_one = places._gazetteer_keys()
    assert len(at_once) > 50_000
    pd.testing.assert_frame_equal(at_once, one_by_one)


def test_key_pinyin_is_fresh_and_equals_what_its_builder_computes():
    table = data.BUILT["key_pinyin"]
    shipped = data.read_built("key_pinyin", table.stamp())
    computed = table.compute()
    assert len(computed) > 300 and {"重庆", "都江堰市"} <= set(computed["key"])
    pd.testing.assert_frame_equal(shipped, computed)


def test_syllables_of_every_name_read_by_phrase_equal_pypinyin():
    from pypinyin import Style, lazy_pinyin

    keys = list(places._key_pinyin())
    assert len(keys) > 300
    for key in keys + ["都江堰那边", "八五0", "太康"]:
        expected = tuple(p for p in lazy_pinyin(key, style=Style.NORMAL, errors="ignore") if p.isalpha())
        assert places._syllables.__wrapped__(key) == expected, key


def test_sounding_out_a_name_read_by_phrase_does_not_import_pypinyin():
    """都江堰 (a phrase in pypinyin's dictionary) is sounded out from the shipped tables: a run that
    meets it does not load pypinyin and its phrase dictionary."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from kinmatch.normalize import places; "
            "places.candidate_counties('都江堰'); places.parse_place('四川省都江堰八五0农场'); "
            "print(places._syllables('都江堰'), 'pypinyin' in sys.modules)")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(root)), cwd=root.parent).stdout.split("\n")[0]
    assert out == "('du', 'jiang', 'yan') False"
