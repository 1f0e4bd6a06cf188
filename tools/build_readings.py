"""Build ``surname_readings`` and ``char_readings`` in ``kinmatch/data/`` from ``../shared/data``.

Run through ``python tools/build_data.py --only readings`` (or directly: ``python tools/build_readings.py``).

Inputs (all permissive; see ``kinmatch/data/SOURCES/readings.md``):

- Unihan 15.0 readings (Unicode licence): Mandarin readings per character. We keep the modern
  dictionary readings (kMandarin, kXHC1983 = 现代汉语词典, kTGHZ2013 = 通用规范汉字字典) and fall back
  to kHanyuPinyin (汉语大字典, many archaic readings) only for characters without any of those,
  so a name character does not sprout readings nobody uses today.
- rime-cantonese ``char.csv`` (CC BY 4.0): Jyutping readings, ordered 預設 → 常用 → 罕見; 棄用
  (obsolete) readings are dropped.
- chunlaw/cantonese-romanisation ``source.tsv`` (MIT): Hong Kong Government romanisation as on
  HKID cards (陳 → chan).
- Surname lists: Faker zh_CN (MIT) and wainshine Chinese-Names-Corpus family names (Apache-2.0),
  plus the curated corrections below. The NCIIC list is NOT used (non-commercial licence).

Both Cantonese sources are keyed by traditional characters; each row is also filed under its
OpenCC ``t2s`` simplified form, because kinmatch normalises every name to simplified first.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import shutil
import sys
import unicodedata
from collections import OrderedDict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Surname readings that differ from the character's everyday reading, or that have two accepted
# surname readings (first = most common).  Sources: 现代汉语词典 surname notes, 《百家姓》 readings,
# the pypinyin/pinyin-data issue discussions on 姓氏读音.  Space separates syllables; `;` separates
# alternative readings.
SURNAME_MANDARIN = {
    "单": "shan", "曾": "zeng", "仇": "qiu", "解": "xie", "区": "ou", "朴": "piao", "查": "zha",
    "盖": "ge;gai", "覃": "qin;tan", "乐": "yue;le", "缪": "miao", "繁": "po", "员": "yun",
    "种": "chong", "召": "shao", "翟": "zhai;di", "秘": "bi", "过": "guo", "折": "she",
    "尉": "wei", "华": "hua", "任": "ren", "那": "na", "阚": "kan", "句": "gou;ju", "隗": "wei;kui",
    "逄": "pang", "宓": "mi;fu", "冼": "xian", "洗": "xian", "莘": "shen;xin", "谌": "chen;shen",
    "厍": "she", "眭": "sui", "炅": "gui;jiong", "柏": "bai;bo", "薄": "bo", "藏": "zang",
    "臧": "zang", "叶": "ye", "沈": "shen", "车": "che", "都": "du", "能": "nai", "祭": "zhai",
    "相": "xiang", "殷": "yin", "重": "chong", "盛": "sheng", "行": "xing;hang", "和": "he",
    "黑": "he", "朝": "chao", "曲": "qu", "贲": "ben;bi", "郇": "huan;xun", "角": "jue;jiao",
    "佴": "nai", "颉": "xie;jie", "乜": "nie", "应": "ying", "石": "shi", "长": "chang",
    "万": "wan", "宿": "su", "卜": "bu", "隽": "juan", "蕃": "pi;fan", "缶": "fou",
    "尉迟": "yu chi", "万俟": "mo qi", "长孙": "zhang sun", "单于": "chan yu", "澹台": "tan tai",
    "令狐": "ling hu", "皇甫": "huang fu", "欧阳": "ou yang", "殴阳": "ou yang", "夏侯": "xia hou",
    "夏候": "xia hou", "司马": "si ma", "诸葛": "zhu ge", "上官": "shang guan", "东方": "dong fang",
    "公孙": "gong sun", "慕容": "mu rong", "宇文": "yu wen", "司徒": "si tu", "鲜于": "xian yu",
    "闾丘": "lv qiu", "亓官": "qi guan", "仲孙": "zhong sun", "钟离": "zhong li", "宗政": "zong zheng",
    "濮阳": "pu yang", "淳于": "chun yu", "太叔": "tai shu", "申屠": "shen tu", "公冶": "gong ye",
    "轩辕": "xuan yuan", "端木": "duan mu", "呼延": "hu yan", "南宫": "nan gong", "西门": "xi men",
    "司空": "si kong", "刘付": "liu fu", "第五": "di wu", "拓跋": "tuo ba", "完颜": "wan yan",
    "纳兰": "na lan", "乐正": "yue zheng", "赫连": "he lian", "独孤": "du gu", "百里": "bai li",
    "左丘": "zuo qiu", "东郭": "dong guo", "闻人": "wen ren", "巫马": "wu ma", "公羊": "gong yang",
    "公西": "gong xi", "段干": "duan gan", "太史": "tai shi", "司寇": "si kou", "颛孙": "zhuan sun",
    "冷狐": "ling hu", "刘傅": "liu fu", "梁丘": "liang qiu", "羊舌": "yang she", "子车": "zi ju",
}

# Compound surnames that the source lists miss but that occur in records.
EXTRA_COMPOUNDS = ["东郭", "梁丘", "羊舌", "子车", "单于"]

# Cantonese surname readings where the first (default) character reading is not the surname's.
SURNAME_JYUTPING = {
    "单": "sin", "曾": "zang", "仇": "sau", "区": "au", "查": "caa", "覃": "tam", "解": "haai",
    "翟": "zaak", "乐": "lok", "朴": "piu", "长孙": "zoeng syun", "尉迟": "wat ci", "万俟": "mak kei",
}
SURNAME_HK_ROMAN = {
    "单": "sin", "曾": "tsang", "仇": "sau", "区": "au", "查": "cha", "覃": "tam", "翟": "chak",
    "乐": "lok", "谢": "tse", "徐": "tsui", "曹": "tso", "周": "chow", "邹": "chow", "蔡": "choi",
    "钟": "chung", "张": "cheung", "蒋": "cheung", "赵": "chiu", "叶": "yip", "郑": "cheng",
}

MODERN_FIELDS = ("kMandarin", "kXHC1983", "kTGHZ2013")


def _toneless(syllable: str) -> str:
    """'lǘ' → 'lv', 'zhāng' → 'zhang' (pypinyin's NORMAL style writes ü as v)."""
    syllable = syllable.strip().lower().replace("ü", "v")
    decomposed = unicodedata.normalize("NFD", syllable)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return plain.replace("u\u0308", "v").replace("ü", "v")


def _unihan_readings(value: str) -> list[str]:
    """All readings of one Unihan field ('0117.100:chán 0207.100:dān' → ['chan', 'dan'])."""
    out = []
    for token in value.split():
        readings = token.rsplit(":", 1)[-1]
        for reading in readings.split(","):
            reading = _toneless(reading)
            if reading.isalpha():
                out.append(reading)
    return out


def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def read_unihan(shared: Path) -> "OrderedDict[str, list[str]]":
    path = shared / "readings" / "unihan" / "unihan_readings_15.0.tsv"
    readings: OrderedDict[str, list[str]] = OrderedDict()
    with path.open(encoding="utf-8") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        for row in csv.DictReader(lines, delimiter="\t"):
            modern = [r for field in MODERN_FIELDS for r in _unihan_readings(row[field] or "")]
            found = modern or _unihan_readings(row["kHanyuPinyin"] or "")
            if found:
                readings[row["char"]] = list(dict.fromkeys(found))
    return readings


def read_jyutping(shared: Path, t2s) -> dict[str, list[str]]:
    rank = {"預設": 0, "常用": 1, "罕見": 2}
    by_char: dict[str, list[tuple[int, int, str]]] = {}
    path = shared / "readings" / "cantonese_rime_jyutping" / "char.csv"
    with path.open(encoding="utf-8") as handle:
        for order, row in enumerate(csv.DictReader(handle)):
            if row["pron_rank"] not in rank:
                continue  # 棄用: obsolete readings would only add false meets
            reading = "".join(c for c in row["jyutping"] if not c.isdigit())
            item = (rank[row["pron_rank"]], order, reading)
            for char in dict.fromkeys([row["char"], t2s.convert(row["char"])]):
                by_char.setdefault(char, []).append(item)
    return {char: list(dict.fromkeys(r for *_, r in sorted(items))) for char, items in by_char.items()}


def read_hk_roman(shared: Path, t2s) -> dict[str, list[str]]:
    path = shared / "readings" / "cantonese_hk_gov_romanisation" / "source.tsv"
    by_char: dict[str, list[str]] = {}
    # The file holds a few bytes that are not UTF-8; replacing them only affects those rows.
    text = path.read_bytes().decode("utf-8", errors="replace")
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        char = row["character"]
        if len(char) != 1 or "\ufffd" in char:
            continue
        romans = [r.lower() for r in (row["roman"] or "").split() if r.isalpha()]
        for key in dict.fromkeys([char, t2s.convert(char)]):
            by_char.setdefault(key, []).extend(romans)
    return {char: list(dict.fromkeys(values)) for char, values in by_char.items()}


def read_surnames(shared: Path) -> "OrderedDict[str, int]":
    """Surname → rank (1 = most common), Faker's zh_CN ranking first, then wainshine by frequency."""
    ranked: OrderedDict[str, int] = OrderedDict()
    with (shared / "names" / "faker_zh_CN" / "zh_CN_surnames_weights.csv").open(encoding="utf-8") as h:
        for row in csv.DictReader(h):
            ranked.setdefault(row["surname"].strip(), int(row["rank"]))
    corpus = shared / "names" / "chinese_names_corpus_wainshine" / "chinese_family_name_1k.csv"
    with corpus.open(encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: -float(r["tf"]))
    for position, row in enumerate(rows, start=1):
        ranked.setdefault(row["surname"].strip(), max(position, len(ranked) + 1))
    for compound in EXTRA_COMPOUNDS + list(SURNAME_MANDARIN):
        ranked.setdefault(compound, len(ranked) + 1)
    return ranked


def _write_gz_csv(path: Path, header: list[str], rows) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    # mtime=0 keeps the gzip bytes reproducible, so a rebuild without changes shows no git diff.
    data = gzip.compress(buffer.getvalue().encode("utf-8"), compresslevel=9, mtime=0)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def build(shared: Path, out: Path) -> list[Path]:
    from pypinyin import Style, lazy_pinyin

    t2s = _t2s()
    mandarin = read_unihan(shared)
    jyutping = read_jyutping(shared, t2s)
    hk_roman = read_hk_roman(shared, t2s)
    surnames = read_surnames(shared)

    char_path = out / "char_readings.csv.gz"
    chars = [c for c in dict.fromkeys(list(mandarin) + list(jyutping))]
    _write_gz_csv(char_path, ["char", "mandarin", "jyutping", "hk_roman"], (
        [c, ";".join(mandarin.get(c, [])), ";".join(jyutping.get(c, [])),
         ";".join(hk_roman.get(c, []))] for c in chars))

    def first(table, char):
        values = table.get(char) or [""]
        return values[0]

    surname_rows = []
    for surname, rank in surnames.items():
        if surname in SURNAME_MANDARIN:
            pinyin = SURNAME_MANDARIN[surname]
        else:
            pinyin = " ".join(lazy_pinyin(surname, style=Style.NORMAL, v_to_u=False))
        jyut = SURNAME_JYUTPING.get(surname) or " ".join(first(jyutping, c) for c in surname)
        roman = SURNAME_HK_ROMAN.get(surname) or " ".join(first(hk_roman, c) for c in surname)
        surname_rows.append([surname, pinyin, jyut.strip(), roman.strip(), rank])
    surname_path = out / "surname_readings.csv.gz"
    _write_gz_csv(surname_path, ["surname", "pinyin", "jyutping", "hk_roman", "rank"], surname_rows)

    licences = out / "LICENSES"
    licences.mkdir(exist_ok=True)
    copies = {
        "readings" / Path("unihan/debian_copyright_unicode-data.txt"): "Unicode-Unihan.txt",
        "readings" / Path("cantonese_rime_jyutping/LICENSE"): "CC-BY-4.0-rime-cantonese.txt",
        "readings" / Path("cantonese_hk_gov_romanisation/LICENSE"): "MIT-cantonese-romanisation.txt",
        "names" / Path("faker_zh_CN/LICENSE.txt"): "Faker-MIT.txt",
        "names" / Path("chinese_names_corpus_wainshine/LICENSE"): "Chinese-Names-Corpus-Apache-2.0.txt",
    }
    written = [char_path, surname_path]
    for source, name in copies.items():
        target = licences / name
        shutil.copyfile(shared / source, target)
        written.append(target)

    sources = out / "SOURCES"
    sources.mkdir(exist_ok=True)
    note = sources / "readings.md"
    note.write_text(_SOURCES_NOTE.format(date=dt.date.today().isoformat(),
                                         n_chars=len(chars), n_surnames=len(surname_rows)),
                    encoding="utf-8")
    written.append(note)
    return written


_SOURCES_NOTE = """\
# Reading tables: `char_readings`, `surname_readings`

Built by `tools/build_readings.py` on {date} from `../shared/data` (collected 2026).

## `char_readings.csv.gz` ({n_chars} rows) — **MODIFIED DATA** derived from Unicode Unihan

Columns: `char`, `mandarin` (toneless pinyin, `;`-separated, most customary first), `jyutping`
(toneless Jyutping, `;`-separated, default first), `hk_roman` (Hong Kong Government romanisation
alternatives, `;`-separated).

- `mandarin`: **modified (subset, tones removed, reshaped) from Unicode Unihan 15.0**
  (`Unihan_Readings.txt` via Debian `unicode-data` 15.0.0-1): fields kMandarin, kXHC1983,
  kTGHZ2013 (kHanyuPinyin only where those are empty). Not an official Unicode file.
  Licence: Unicode License, `LICENSES/Unicode-Unihan.txt`.
- `jyutping`: rime-cantonese `char.csv` (github.com/CanCLID/rime-cantonese-upstream @126ce8c),
  CC BY 4.0 (`LICENSES/CC-BY-4.0-rime-cantonese.txt`). Changes: tones removed, obsolete (棄用)
  readings dropped, rows also filed under the OpenCC t2s simplified character.
- `hk_roman`: github.com/chunlaw/cantonese-romanisation @689db59 `source.tsv`, MIT
  (`LICENSES/MIT-cantonese-romanisation.txt`). Changes: lower-cased, de-duplicated, rows also
  filed under the simplified character.

## `surname_readings.csv.gz` ({n_surnames} rows)

Columns: `surname`, `pinyin` (correct surname reading, syllables space-separated, `;` between
accepted alternatives, first = usual), `jyutping`, `hk_roman`, `rank` (1 = most common).

- Surname list: Faker 40.63.0 `zh_CN` surnames (MIT, `LICENSES/Faker-MIT.txt`) and
  wainshine/Chinese-Names-Corpus family names @47d4af8 (Apache-2.0,
  `LICENSES/Chinese-Names-Corpus-Apache-2.0.txt`), plus compound surnames curated in the build
  script. The NCIIC 2008 data is deliberately not used (non-commercial licence).
- Readings: a curated list of surname readings (单 shan, 曾 zeng, 区 ou, 尉迟 yu chi, ...) in
  `tools/build_readings.py`; otherwise pypinyin's default reading. Cantonese columns from the
  tables above with a few curated surname readings (曾 zang / tsang, 区 au).
"""


if __name__ == "__main__":
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data"
    for path in build(shared, REPO / "kinmatch" / "data"):
        print(path.relative_to(REPO), f"{path.stat().st_size / 1024:.0f} KiB")
