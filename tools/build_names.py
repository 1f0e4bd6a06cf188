"""Build the name-frequency tables the simulator draws from (``kinmatch.datasets``).

Writes into ``kinmatch/data/``:

- ``surname_freq.csv``: surname, weight (share of people, sums to 1), faker_percent, wainshine_tf,
  source. Faker zh_CN surname weights (MIT; a percentage list citing zh.wikipedia's 中国姓氏排名)
  for the head, wainshine Chinese-Names-Corpus family-name term frequencies (Apache-2.0) for
  the tail, scaled onto the Faker scale over the surnames both lists share.
- ``given_name_freq.csv``: given_name, sex (M/F), kind, weight, source. ``kind`` is ``name``
  (a whole given name from Faker zh_CN, or from Faker zh_TW converted to simplified characters),
  ``first`` / ``second`` (one character, by position in two-character names) or ``single``
  (a one-character given name's character). Faker lists names by popularity but gives no
  counts, so a name's weight is Zipf-like by its rank (1 / rank^0.8); a character's weight is
  the summed weight of the names it occurs in. The simulator composes two-character given names
  from the ``first`` and ``second`` pools of the same sex, which gives realistic variety
  (tens of thousands of names) from a small permissive list.
- ``common_chars.csv``: char, pinlu (frequency count from Unihan kHanyuPinlu, i.e. the 现代汉语
  频率词典; Unicode licence). The simulator groups these by pypinyin reading to find homophones
  a station clerk might write (李伟 → 李玮) and dialect-merged characters (胡 → 吴).

The NCIIC 2008 name statistics in ``../shared/data/names`` are non-commercial (CC BY-NC-SA):
they are deliberately not read here and never ship in the package.

Run through ``python tools/build_data.py --only names``.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

import opencc
import pandas as pd

# Faker's list has a few entries off by a factor of ~10 or ~100 against every other ranking
# (于 0.0074 % at rank 39, 鞠 0.23 % at rank 261); where Faker and the scaled wainshine figure
# differ by more than this factor we trust the rank-consistent wainshine figure.
_MAX_DISAGREEMENT = 8.0
_ZIPF_EXPONENT = 0.8
# Taiwanese given names are a different naming culture (家豪, 怡君); they broaden the character
# pool but are down-weighted against the mainland list.
_TW_NAME_FACTOR = 0.3


def _surnames(names_dir: Path) -> pd.DataFrame:
    faker = pd.read_csv(names_dir / "faker_zh_CN" / "zh_CN_surnames_weights.csv", dtype={"surname": str})
    wain = pd.read_csv(names_dir / "chinese_names_corpus_wainshine" / "chinese_family_name_1k.csv",
                       dtype={"surname": str})
    wain = wain.dropna().drop_duplicates("surname")
    wain = wain[wain["surname"].str.fullmatch(r"[\u4e00-\u9fff]{1,2}")]
    merged = pd.merge(faker[["surname", "weight_percent"]], wain, on="surname", how="outer")
    both = merged.dropna()
    # Scale factor from corpus term frequency to percent of people: median ratio over shared
    # surnames (robust to the few Faker outliers).
    scale = float((both["weight_percent"] / both["tf"]).median())
    merged["wain_percent"] = merged["tf"] * scale
    ratio = merged["weight_percent"] / merged["wain_percent"]
    bad = (ratio > _MAX_DISAGREEMENT) | (ratio < 1 / _MAX_DISAGREEMENT)
    use_faker = merged["weight_percent"].notna() & ~bad
    merged["percent"] = merged["weight_percent"].where(use_faker, merged["wain_percent"])
    merged["source"] = ["faker" if f else "wainshine" for f in use_faker]
    merged = merged.dropna(subset=["percent"])
    merged = merged[merged["percent"] > 0]
    merged["weight"] = merged["percent"] / merged["percent"].sum()
    merged = merged.sort_values("weight", ascending=False, kind="stable")
    return pd.DataFrame({
        "surname": merged["surname"],
        "weight": merged["weight"].round(8),
        "faker_percent": merged["weight_percent"],
        "wainshine_tf": merged["tf"].round().astype("Int64"),
        "source": merged["source"],
    })


def _given_names(names_dir: Path) -> pd.DataFrame:
    t2s = opencc.OpenCC("t2s")
    frames = []
    for file, factor, source, convert in (
        ("zh_CN_given_names.csv", 1.0, "faker_zh_CN", False),
        ("zh_TW_given_names.csv", _TW_NAME_FACTOR, "faker_zh_TW", True),
    ):
        table = pd.read_csv(names_dir / "faker_zh_CN" / file, dtype=str).dropna()
        if convert:
            table["given_name"] = [t2s.convert(n) for n in table["given_name"]]
        table["rank"] = table.groupby("gender").cumcount() + 1
        table["weight"] = factor / table["rank"] ** _ZIPF_EXPONENT
        table["source"] = source
        frames.append(table)
    names = pd.concat(frames, ignore_index=True)
    names = names[names["given_name"].str.fullmatch(r"[\u4e00-\u9fff]{1,2}")]
    # Faker files some names under the "wrong" sex (红霞 and 芳 under M); that is real enough
    # (many older men are called 建华, many women 建平), so we keep the list as given.
    names = (names.groupby(["given_name", "gender"], as_index=False)
             .agg(weight=("weight", "sum"), source=("source", "first")))
    rows = [names.assign(kind="name")]
    for kind, pick in (("first", lambda n: n[0] if len(n) == 2 else None),
                       ("second", lambda n: n[1] if len(n) == 2 else None),
                       ("single", lambda n: n if len(n) == 1 else None)):
        chars = names.assign(given_name=names["given_name"].map(pick)).dropna(subset=["given_name"])
        chars = chars.groupby(["given_name", "gender"], as_index=False).agg(
            weight=("weight", "sum"), source=("source", "first"))
        rows.append(chars.assign(kind=kind))
    table = pd.concat(rows, ignore_index=True).rename(columns={"gender": "sex"})
    table["weight"] = table.groupby(["kind", "sex"])["weight"].transform(lambda w: w / w.sum()).round(8)
    table = table.sort_values(["kind", "sex", "weight"], ascending=[True, True, False], kind="stable")
    return table[["given_name", "sex", "kind", "weight", "source"]]


def _common_chars(readings_dir: Path) -> pd.DataFrame:
    unihan = pd.read_csv(readings_dir / "unihan" / "unihan_readings_15.0.tsv", sep="\t", skiprows=1,
                         dtype=str, usecols=["char", "kHanyuPinlu"]).dropna()
    # kHanyuPinlu looks like "yī(32747) yí(12)"; the character's frequency is the sum.
    counts = unihan["kHanyuPinlu"].str.findall(r"\((\d+)\)").map(lambda xs: sum(int(x) for x in xs))
    # Pinlu counts both simplified and traditional forms; a mainland clerk writes simplified,
    # so traditional forms are folded into their simplified character.
    t2s = opencc.OpenCC("t2s")
    table = pd.DataFrame({"char": [t2s.convert(c) for c in unihan["char"]], "pinlu": counts})
    table = table[table["char"].str.fullmatch(r"[\u4e00-\u9fff]") & (table["pinlu"] > 0)]
    table = table.groupby("char", as_index=False)["pinlu"].sum()
    return table.sort_values(["pinlu", "char"], ascending=[False, True], kind="stable")


def build(shared: Path, out: Path) -> list[Path]:
    names_dir = shared / "names"
    written = []
    common_chars = _common_chars(shared / "readings")
    for name, frame in (("surname_freq", _surnames(names_dir)),
                        ("given_name_freq", _given_names(names_dir)),
                        ("common_chars", common_chars)):
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    licenses = out / "LICENSES"
    licenses.mkdir(parents=True, exist_ok=True)
    for src, dst in (
        (names_dir / "faker_zh_CN" / "LICENSE.txt", "Faker-MIT.txt"),
        (names_dir / "chinese_names_corpus_wainshine" / "LICENSE", "Chinese-Names-Corpus-Apache-2.0.txt"),
        (shared / "readings" / "unihan" / "debian_copyright_unicode-data.txt", "Unicode-Unihan.txt"),
    ):
        shutil.copyfile(src, licenses / dst)
        written.append(licenses / dst)
    sources = out / "SOURCES"
    sources.mkdir(parents=True, exist_ok=True)
    note = sources / "names.md"
    note.write_text(_SOURCES_NOTE.format(date=_dt.date.today().isoformat(), n_chars=len(common_chars)), encoding="utf-8")
    written.append(note)
    return written


_SOURCES_NOTE = """\
# Name frequencies for the simulator (surname_freq, given_name_freq, common_chars)

Built by `tools/build_names.py` on {date}. Used only by `kinmatch.datasets` to generate synthetic
people; matching never uses them.

| table | origin | licence |
|---|---|---|
| surname_freq | Faker 40.63.0 `providers/person/zh_CN` surname weights (percent, citing zh.wikipedia 中国姓氏排名); wainshine/Chinese-Names-Corpus @47d4af8 `Chinese_Family_Name（1k）` term frequencies for surnames Faker lacks, scaled onto Faker's percent by the median ratio over shared surnames. Where the two disagree by more than 8x (Faker typos such as 于 0.0074, 鞠 0.23) the scaled wainshine figure is used; column `source` says which | MIT (Faker, `LICENSES/Faker-MIT.txt`); Apache-2.0 (wainshine, `LICENSES/Chinese-Names-Corpus-Apache-2.0.txt`) |
| given_name_freq | Faker `zh_CN` given names (131, by popularity) and `zh_TW` given names (236, converted to simplified with OpenCC t2s, weight x0.3). Faker gives ranks, not counts: weight = 1/rank^0.8 within each sex. `kind=name` rows are whole names; `first`/`second`/`single` rows are the character pools (weight = summed weight of the names containing the character in that position), from which the simulator composes two-character names | MIT (Faker) |
| common_chars | Unicode Unihan 15.0 `kHanyuPinlu` (frequency counts of the 现代汉语频率词典), summed over a character's readings, traditional forms folded into simplified (OpenCC t2s); {n_chars:,} characters. Used as the pool for homophone and dialect-merger substitutions | Unicode licence (`LICENSES/Unicode-Unihan.txt`) |

Not used: the NCIIC 2008 name statistics (ChineseNames, CC BY-NC-SA, non-commercial) — they must
never ship in, or be read by, the package.
"""
