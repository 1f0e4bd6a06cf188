"""The marks, conditions, build and hair comparisons give exactly the levels and reasons of their
one-pair oracles (tests/oracles/marks.py): hand-made cases one line each, mixed records built to
reach every shortcut, simulated link data, and through the engine."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import marks as oracle

import kinmatch
from kinmatch.datasets.simulate import simulate
from kinmatch.match.comparisons.build import BuildComparison, build_frequency
from kinmatch.match.comparisons.conditions import CONDITION_NAMES, ConditionsComparison, word_masks
from kinmatch.match.comparisons.hair import HairComparison
from kinmatch.match.comparisons.marks import MarksComparison, deciding_mark, mark_frequency
from kinmatch.match.engine import compare_pairs

COLUMNS = {"marks": ("marks", "negated"), "conditions": ("conditions",), "build": ("build",), "hair": ("hair",)}
BLANK = {"marks": (), "negated": (), "conditions": (), "build": None, "hair": None}


def frame(records: list[dict], id_column: str) -> pd.DataFrame:
    """Records as a normalized frame holding every column these comparisons read (blank where absent)."""
    rows = [{id_column: f"{id_column[0].upper()}{i}", **BLANK, **record} for i, record in enumerate(records)]
    out = pd.DataFrame(rows)
    for column in ("marks", "negated", "conditions"):  # tuples of one str stay tuples, not strings
        out[column] = pd.Series([tuple(r[column]) for r in rows], dtype=object)
    return out


def oracle_frequency(name: str, missing: pd.DataFrame):
    if name == "marks":
        return oracle.mark_frequency(missing["marks"])
    if name == "build":
        return oracle.value_frequency(missing["build"]) or None
    return None


def oracle_level(name: str, resident: dict, report: dict, frequency) -> int:
    if name == "marks":
        return oracle.marks_level(resident, report, frequency)
    if name == "build":
        return oracle.build_level(resident, report, frequency)
    return {"conditions": oracle.conditions_level, "hair": oracle.hair_level}[name](resident, report)


def run(comparison, residents: pd.DataFrame, missing: pd.DataFrame, lp: np.ndarray, rp: np.ndarray):
    encoded = comparison.encode(residents, missing)
    levels = comparison.levels(encoded, lp, rp)
    assert levels.dtype == np.int8
    return levels, comparison.reasons(encoded, lp, rp, levels)


def assert_equals_oracle(comparison, residents: pd.DataFrame, missing: pd.DataFrame, lp: np.ndarray,
                         rp: np.ndarray, frequency=None) -> set:
    """Every pair's level and reason equal the oracle's; returns the levels seen."""
    levels, reasons = run(comparison, residents, missing, lp, rp)
    name = comparison.name
    if frequency is None:
        frequency = oracle_frequency(name, missing)
    left, right = residents.to_dict("records"), missing.to_dict("records")
    for k, (i, j) in enumerate(zip(lp.tolist(), rp.tolist(), strict=True)):
        expected = oracle_level(name, left[i], right[j], frequency)
        assert levels[k] == expected, (name, left[i], right[j])
        assert reasons[k] == oracle.reason(name, expected, left[i], right[j], frequency), (name, left[i], right[j])
    return set(levels.tolist())


def one(comparison, resident: dict, report: dict) -> tuple[int, str]:
    levels, reasons = run(comparison, frame([resident], "resident_id"), frame([report], "missing_id"),
                          np.array([0]), np.array([0]))
    return int(levels[0]), reasons[0]


# -- hand-made cases, one line each ----------------------------------------------------------------

MARK_CASES = [
    # resident marks, report marks, level, reason
    (("缺指:左手:小指",), ("缺指:左手:小指",), 4, "罕见特征相符(缺指:左手:小指)"),
    (("痣:脸:左",), ("痣:脸:左", "疤痕:额头:"), 3, "体貌特征相符(痣:脸:左)"),
    (("痣:脸:左",), ("痣:脸:",), 3, "体貌特征相符(痣:脸:左)"),
    (("痣:脸:",), ("痣::右",), 3, "体貌特征相符(痣:脸:右)"),
    (("痣:脸:左",), ("痣:脸:右",), 2, "特征部位相同方向相反(痣:脸:左)"),
    (("痣:脸:左",), ("痣:背:左",), 1, "体貌特征无共同点"),
    (("痣:脸:上",), ("痣:脸:下",), 1, "体貌特征无共同点"),         # sides that neither agree nor mirror
    (("痣:脸:上",), ("痣:脸:上",), 3, "体貌特征相符(痣:脸:上)"),
    (("痣:脸:左",), ("疤痕:额头:",), 1, "体貌特征无共同点"),
    (("无纹身::",), ("纹身:右臂:龙",), 0, "体貌特征矛盾(无纹身/纹身)"),
    (("无纹身", "痣:脸:左"), ("纹身:臂:右", "痣:脸:左"), 0, "体貌特征矛盾(无纹身/纹身)"),
    (("无纹身::",), ("无纹身::",), 1, "体貌特征无共同点"),            # two denials share nothing
    (("无::",), ("痣:脸:左",), 1, "体貌特征无共同点"),               # a bare 无 denies nothing
    ((), ("纹身:右臂:龙",), -1, "体貌特征不详"),
    (("聋哑::",), ("聋哑::", "痣:脸:左"), -1, "体貌特征不详"),       # a condition is the conditions comparison's
    (("聋哑::", "痣:脸:左"), ("聋哑::", "痣:脸:右"), 2, "特征部位相同方向相反(痣:脸:左)"),
    (("痣:脸:左", "疤痕:额头:"), ("疤痕:额头:", "痣:脸:"), 5, "多处特征相符(痣:脸:左、疤痕:额头)"),
    (("痣:脸:左", "痣:脸:"), ("痣:脸:左",), 3, "体貌特征相符(痣:脸:左)"),   # two marks of one record, one of the other
    (("痣:脸:左", "疤痕:额头:"), ("痣:脸:右", "疤痕:额头:"), 3, "体貌特征相符(疤痕:额头)"),  # one agrees, one mirrored
    (("痣:脸:左", "缺指:左手:小指"), ("缺指:左手:", "痣:脸:右"), 4, "罕见特征相符(缺指:左手:小指)"),
    (("疤痕:手背:左:3cm",), ("疤痕:手背:左:5cm",), 3, "体貌特征相符(疤痕:手背:左)"),  # the detail is not compared
]


@pytest.mark.parametrize("a, b, level, text", MARK_CASES)
def test_marks_cases_and_symmetry(a, b, level, text):
    comparison = MarksComparison(frequency={})
    assert one(comparison, {"marks": a}, {"marks": b}) == (level, text)
    assert one(comparison, {"marks": b}, {"marks": a})[0] == level


NEGATED_CASES = [
    # resident, report, level, reason
    ({"negated": ("纹身",)}, {"marks": ("纹身:右臂:龙",)}, 0, "体貌特征矛盾(无纹身/纹身)"),
    ({"marks": ("纹身:右臂:龙",)}, {"marks": ("痣:脸:左",), "negated": ("纹身",)}, 0, "体貌特征矛盾(无纹身/纹身)"),
    ({"negated": ("疤痕",)}, {"marks": ("纹身:右臂:龙",)}, -1, "体貌特征不详"),
    ({"negated": ("纹身",)}, {"negated": ("纹身",)}, -1, "体貌特征不详"),
    ({"marks": ("痣:脸:左",), "negated": ("纹身", "疤痕")}, {"marks": ("痣:脸:左", "疤痕:额头:")}, 0,
     "体貌特征矛盾(无疤痕/疤痕)"),
]


@pytest.mark.parametrize("resident, report, level, text", NEGATED_CASES)
def test_marks_negated_column_contradicts(resident, report, level, text):
    assert one(MarksComparison(), resident, report) == (level, text)
    assert one(MarksComparison(), report, resident)[0] == level


def test_mark_rarity_from_the_frequency_table_or_the_reports():
    mole = {"marks": ("痣:脸:左",)}
    assert one(MarksComparison(frequency={"痣:脸": 0.3}), mole, mole)[0] == 3
    assert one(MarksComparison(frequency={"痣:脸": 0.01}), mole, mole)[0] == 4
    assert one(MarksComparison(frequency={}), mole, mole)[0] == 3  # MARK_RARITY: moles are common
    # frequency None: the share among the reports compared (1 of 20 carries this mole: rare)
    missing = frame([mole] + [{"marks": ("疤痕:额头:",)}] * 19, "missing_id")
    levels, reasons = run(MarksComparison(), frame([mole], "resident_id"), missing, np.array([0]), np.array([0]))
    assert (levels.tolist(), reasons.tolist()) == ([4], ["罕见特征相符(痣:脸:左)"])


def test_mark_frequency_equals_the_oracle(simulated):
    marks = simulated[1]["marks"]
    assert mark_frequency(marks) == pytest.approx(oracle.mark_frequency(marks))
    assert mark_frequency(pd.Series([], dtype=object)) == {}


CONDITION_CASES = [
    (("聋哑",), ("聋哑", "智力障碍"), 2, "特殊残疾相符(聋哑)"),
    (("痴呆", "癫痫"), ("癫痫", "痴呆"), 2, "特殊残疾相符(痴呆、癫痫)"),
    (("痴呆",), ("痴呆",), 1, "健康状况相符(痴呆)"),
    (("痴呆", "精神障碍"), ("精神障碍", "智力障碍", "痴呆"), 1, "健康状况相符(痴呆、精神障碍)"),
    (("痴呆",), ("聋哑",), 0, "健康状况不同"),
    ((), ("聋哑",), -1, "健康状况不详"),
    ((), (), -1, "健康状况不详"),
]


@pytest.mark.parametrize("a, b, level, text", CONDITION_CASES)
def test_conditions_cases_and_symmetry(a, b, level, text):
    assert one(ConditionsComparison(), {"conditions": a}, {"conditions": b}) == (level, text)
    assert one(ConditionsComparison(), {"conditions": b}, {"conditions": a})[0] == level


BUILD_CASES = [
    ("瘦", "瘦", 2, "体型相同(瘦/瘦)"), ("胖", "胖", 3, "少见体型相同(胖/胖)"), ("中等", "瘦", 1, "体型相近(中等/瘦)"),
    ("胖", "瘦", 0, "体型相反(胖/瘦)"), (None, "瘦", -1, "体型不详"), ("瘦", "", -1, "体型不详"),
    ("偏瘦", "瘦", -1, "体型不详"),
]


@pytest.mark.parametrize("a, b, level, text", BUILD_CASES)
def test_build_cases_and_symmetry(a, b, level, text):
    assert one(BuildComparison(frequency={}), {"build": a}, {"build": b}) == (level, text)
    assert one(BuildComparison(frequency={}), {"build": b}, {"build": a})[0] == level


def test_build_rarity_follows_the_reports():
    # where most reports say 胖, a shared 胖 is the common case and a shared 瘦 the rare one
    missing = frame([{"build": "胖"}] * 8 + [{"build": "瘦"}] * 2, "missing_id")
    residents = frame([{"build": "胖"}, {"build": "瘦"}], "resident_id")
    assert build_frequency(missing["build"]) == {"胖": 0.8, "瘦": 0.2}
    levels, reasons = run(BuildComparison(), residents, missing, np.array([0, 1]), np.array([0, 8]))
    assert levels.tolist() == [2, 3]
    assert reasons.tolist() == ["体型相同(胖/胖)", "少见体型相同(瘦/瘦)"]
    # reports that describe no build: the rough shares (胖 rare)
    blank = frame([{}] * 3, "missing_id")
    assert run(BuildComparison(), residents, blank, np.array([0]), np.array([0]))[0].tolist() == [-1]
    assert one(BuildComparison(), {"build": "胖"}, {"build": "胖"})[0] == 2  # the one report says 胖: not rare


HAIR_CASES = [
    ("白发、短发", "白发", 1, "发型相同(白发)"), ("长发、白发", "长发", 2, "发型发色相符(长发)"),
    ("短发", "短发", 1, "发型相同(短发)"), ("光头", "秃顶", 2, "发型发色相符(光头/秃顶)"),
    ("光头、白发", "秃顶、白发", 2, "发型发色相符(白发)"), ("长发", "短发", 0, "发型发色不同(长发/短发)"),
    ("白发,长发", "长发", 2, "发型发色相符(白发,长发/长发)"),  # a comma separates words, but not in the text shown
    ("白发", None, -1, "发型发色不详"), ("", "短发", -1, "发型发色不详"), ("、", "短发", -1, "发型发色不详"),
]


@pytest.mark.parametrize("a, b, level, text", HAIR_CASES)
def test_hair_cases_and_symmetry(a, b, level, text):
    assert one(HairComparison(), {"hair": a}, {"hair": b}) == (level, text)
    assert one(HairComparison(), {"hair": b}, {"hair": a})[0] == level


# -- mixed records reaching every shortcut ---------------------------------------------------------

MARKS = ["痣:脸:左", "痣:脸:右", "痣:脸:", "痣::", "疤痕:额头:", "疤痕:额头:左:3cm", "缺指:左手:小指", "六指:右手:",
         "无纹身::", "纹身:手臂:左", "聋哑::", "胎记:腿:右", "胎记:腿:左", "胎记:腿:前", "烫伤:手:后", "无疤痕"]
HAIR = [None, "短发", "白发、短发", "白发", "光头", "秃顶", "长发", "长发、光头", "白发,短发"]


def mixed_records(rng: np.random.Generator, n: int) -> list[dict]:
    """Marks with blank parts and sides, mirrored and other sides, 无X and negations, conditions
    written as marks; every condition; builds and hair words of every kind."""
    return [{"marks": tuple(rng.choice(MARKS, size=rng.integers(0, 4), replace=False)),
             "negated": tuple(rng.choice(["纹身", "疤痕", "特征"], size=rng.integers(0, 2) * (rng.random() < 0.3),
                                         replace=False)),
             "conditions": tuple(rng.choice(sorted(CONDITION_NAMES), size=rng.integers(0, 3), replace=False)),
             "build": [None, "瘦", "中等", "胖", ""][rng.integers(5)],
             "hair": HAIR[rng.integers(len(HAIR))]} for _ in range(n)]


def all_pairs(n_left: int, n_right: int) -> tuple[np.ndarray, np.ndarray]:
    lp, rp = np.divmod(np.arange(n_left * n_right), n_right)
    return lp, rp


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("comparison, reached", [
    (MarksComparison(), {-1, 0, 1, 2, 3, 5}),  # 60 reports: no mark is rare among them
    (MarksComparison(frequency={"痣:脸": 0.01}), {-1, 0, 1, 2, 3, 4, 5}),
    (ConditionsComparison(), {-1, 0, 1, 2}),
    (BuildComparison(), {-1, 0, 1, 3}),  # a fifth of the reports per build: every build is rare
    (BuildComparison(frequency={}), {-1, 0, 1, 2, 3}),
    (HairComparison(), {-1, 0, 1, 2})], ids=repr)
def test_mixed_records_equal_the_oracle(seed, comparison, reached):
    rng = np.random.default_rng(seed)
    residents, missing = frame(mixed_records(rng, 40), "resident_id"), frame(mixed_records(rng, 60), "missing_id")
    seen = assert_equals_oracle(comparison, residents, missing, *all_pairs(40, 60), comparison.get_params().get(
        "frequency"))
    # the records really reached the levels the shortcuts decide and those they pass on
    assert seen >= reached


@pytest.mark.parametrize("seed", [4, 5])
def test_deciding_mark_equals_the_oracle(seed):
    # the mark a reason shows comes from deciding_mark on the encoded values, with its level
    rng = np.random.default_rng(seed)
    residents, missing = frame(mixed_records(rng, 30), "resident_id"), frame(mixed_records(rng, 30), "missing_id")
    encoded = MarksComparison().encode(residents, missing)
    left, right = encoded.left, encoded.right
    for i, resident in enumerate(residents.to_dict("records")):
        for j, report in enumerate(missing.to_dict("records")):
            a, b = left.code[i], right.code[j]
            assert deciding_mark(left.parsed[a], left.absent[a], right.parsed[b], right.absent[b],
                                 encoded.frequency) == oracle.mark_comparison(
                resident["marks"], report["marks"], encoded.frequency, resident["negated"], report["negated"])


def test_marks_with_more_types_than_one_word_of_bits():
    # hundreds of mark types: the type masks take several words; every level must still be the oracle's
    rng = np.random.default_rng(9)
    kinds = [f"记{i}" for i in range(400)]

    def records(n):
        return [{"marks": tuple(f"{rng.choice(kinds[:3] if rng.random() < 0.5 else kinds)}:{rng.choice(['脸', ''])}:"
                                f"{rng.choice(['左', '右', ''])}" for _ in range(rng.integers(0, 3))),
                 "negated": (str(rng.choice(kinds)),) if rng.random() < 0.2 else ()} for _ in range(n)]

    residents, missing = frame(records(50), "resident_id"), frame(records(80), "missing_id")
    encoded = MarksComparison().encode(residents, missing)
    assert encoded.left.types.shape[1] >= 2
    seen = assert_equals_oracle(MarksComparison(), residents, missing, *all_pairs(50, 80))
    assert {-1, 0, 1, 2, 3} <= seen


def test_word_masks_set_one_bit_per_word():
    masks = word_masks([[0, 62, 63], []], 126)
    assert masks.tolist() == [[1 | (1 << 62), 1], [0, 0]]


MARK_LISTS = st.lists(st.sampled_from(MARKS), max_size=3, unique=True).map(tuple)


@settings(max_examples=60, deadline=None)
@given(MARK_LISTS, MARK_LISTS, st.sampled_from([(), ("纹身",)]))
def test_marks_symmetric_and_equal_the_oracle_property(a, b, negated):
    resident, report = {"marks": a, "negated": negated}, {"marks": b}
    level, text = one(MarksComparison(frequency={}), resident, report)
    assert level == oracle.marks_level(resident, report, {}) == one(MarksComparison(frequency={}), report, resident)[0]
    assert text == oracle.reason("marks", level, resident, report, {})


# -- simulated link data ---------------------------------------------------------------------------

@pytest.fixture(scope="module", params=[3, 8])
def simulated(request):
    """Normalized simulated records and pairs: the true pairs, random pairs, and pairs sharing a
    mark type, a condition or a build."""
    sim = simulate(n_missing=3000, n_residents=300, seed=request.param)
    residents, missing = kinmatch.normalize_residents(sim.residents)[0], kinmatch.normalize_missing(sim.missing)[0]
    rng = np.random.default_rng(request.param)
    res_at = pd.Index(residents["resident_id"].astype(str))
    rep_at = pd.Index(missing["missing_id"].astype(str))
    parts = [np.column_stack([res_at.get_indexer(sim.truth["resident_id"].astype(str)),
                              rep_at.get_indexer(sim.truth["missing_id"].astype(str))]),
             np.column_stack([rng.integers(len(residents), size=4000), rng.integers(len(missing), size=4000)])]
    keys = {"mark": lambda f: f["marks"].map(lambda m: m[0].split(":")[0] if m else None),
            "condition": lambda f: f["conditions"].map(lambda c: c[0] if c else None),
            "build": lambda f: f["build"]}
    for key in keys.values():
        left = pd.DataFrame({"key": key(residents), "lp": np.arange(len(residents))}).dropna()
        right = pd.DataFrame({"key": key(missing), "rp": np.arange(len(missing))}).dropna()
        shared = left.merge(right, on="key")
        picked = shared.sample(n=min(3000, len(shared)), random_state=request.param)
        parts.append(picked[["lp", "rp"]].to_numpy())
    pairs = np.unique(np.concatenate(parts), axis=0)
    return residents, missing, pairs[:, 0], pairs[:, 1]


@pytest.mark.parametrize("comparison", [MarksComparison(), ConditionsComparison(), BuildComparison(),
                                        HairComparison()], ids=repr)
def test_simulated_pairs_equal_the_oracle(simulated, comparison):
    residents, missing, lp, rp = simulated
    seen = assert_equals_oracle(comparison, residents, missing, lp, rp)
    # every level (the simulator writes no denied marks: no contradiction)
    assert seen == set(range(-1, comparison.n_levels)) - ({0} if comparison.name == "marks" else set())


@pytest.mark.parametrize("comparison", [MarksComparison(frequency={"痣:脸": 0.01, "疤痕:头": 0.05}),
                                        ConditionsComparison(), BuildComparison(frequency={}), HairComparison()],
                         ids=repr)
def test_simulated_levels_symmetric(simulated, comparison):
    # with the rarity table fixed (None would count it on whichever side is the reports)
    residents, missing, lp, rp = simulated
    levels = comparison.levels(comparison.encode(residents, missing), lp, rp)
    swapped = comparison.levels(comparison.encode(missing, residents), rp, lp)
    np.testing.assert_array_equal(levels, swapped)


def test_through_the_engine_equals_the_oracle(simulated):
    residents, missing, lp, rp = simulated
    pairs = pd.DataFrame({"resident_id": residents["resident_id"].to_numpy()[lp],
                          "missing_id": missing["missing_id"].to_numpy()[rp]})
    comparisons = [MarksComparison(), ConditionsComparison(), BuildComparison(), HairComparison()]
    vectors = compare_pairs(pairs, residents, missing, comparisons=comparisons)
    assert list(vectors.columns) == ["marks", "conditions", "build", "hair"]
    left, right = residents.set_index("resident_id"), missing.set_index("missing_id")
    frequencies = {c.name: oracle_frequency(c.name, missing) for c in comparisons}
    for (rid, mid), row in vectors.iloc[::7].iterrows():
        a, b = left.loc[rid].to_dict(), right.loc[mid].to_dict()
        assert row.to_dict() == {name: oracle_level(name, a, b, frequencies[name]) for name in row.index}


def test_the_engine_fills_absent_columns_with_blanks():
    residents = pd.DataFrame({"resident_id": ["R1"], "marks": [("痣:脸:左",)]})
    missing = pd.DataFrame({"missing_id": ["M1"], "marks": [("痣:脸:左",)]})
    pairs = pd.DataFrame({"resident_id": ["R1"], "missing_id": ["M1"]})
    comparisons = [MarksComparison(), ConditionsComparison(), BuildComparison(), HairComparison()]
    vectors = compare_pairs(pairs, residents, missing, comparisons=comparisons)
    assert vectors.iloc[0].tolist() == [3, -1, -1, -1]  # every report carries the mole: common


# -- the declared data -----------------------------------------------------------------------------

@pytest.mark.parametrize("comparison, title, agree_from, fields", [
    (MarksComparison(), "体貌特征", 3, (("体貌特征", "description", "description"),)),
    (ConditionsComparison(), "健康状况", 1, (("健康状况", "health", "health"),)),
    (BuildComparison(), "体型", 2, ()),
    (HairComparison(), "发型发色", 1, ()),
])
def test_declared_data(comparison, title, agree_from, fields):
    assert (comparison.title, comparison.agree_from, comparison.fields) == (title, agree_from, fields)
    assert comparison.ordered
    assert comparison.left_columns == comparison.right_columns == COLUMNS[comparison.name]
    assert sorted(comparison.labels) == list(range(-1, comparison.n_levels))
    assert json.loads(json.dumps(comparison.to_dict()))["levels"]["-1"] == comparison.labels[-1]


def test_parameters_are_stored_as_given():
    table = {"痣:脸": 0.01}
    assert MarksComparison(frequency=table).frequency is table
    assert MarksComparison().get_params() == {"frequency": None}
    assert BuildComparison(frequency={"胖": 0.5}).to_dict()["params"] == {"frequency": {"胖": 0.5}}


def test_no_pairs():
    residents, missing = frame([{}], "resident_id"), frame([{}], "missing_id")
    empty = np.zeros(0, dtype=np.int64)
    for comparison in (MarksComparison(), ConditionsComparison(), BuildComparison(), HairComparison()):
        levels, reasons = run(comparison, residents, missing, empty, empty)
        assert len(levels) == len(reasons) == 0
