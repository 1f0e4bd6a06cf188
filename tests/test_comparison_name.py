"""The name comparison: levels, reasons and tf_name equal the one-pair oracle (tests/oracles/name.py)
on hand-made cases and on simulated records; the shortcuts (blank names, no shared token) change
no level."""

import numpy as np
import pandas as pd
import pytest
from oracles import name as oracle

from kinmatch.match.comparisons import name as name_module
from kinmatch.match.comparisons.name import (
    PARTIAL_KEY,
    NameComparison,
    PartialMatch,
    key_frequency,
    partial_match,
)
from kinmatch.match.engine import compare_pairs, with_columns


def person(name="", pinyin="", keys=(), jyut="", alias=(), alias_keys=(), given=(), surname=(), kind="full",
           evidence=True, raw=None):
    return {"name_norm": name or None, "name_pinyin": pinyin or None, "name_keys": tuple(keys),
            "name_jyutping": jyut or None, "alias_norm": tuple(alias), "alias_keys": tuple(alias_keys),
            "given_keys": tuple(given), "surname_keys": tuple(surname), "name_kind": kind,
            "name_evidence": evidence, "name": raw if raw is not None else (name or None)}


def frames(residents: list[dict], reports: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    comparison = NameComparison()
    left = pd.DataFrame([r | {"resident_id": f"R{i}"} for i, r in enumerate(residents)])
    right = pd.DataFrame([r | {"missing_id": f"M{i}"} for i, r in enumerate(reports)])
    return with_columns(left, comparison.left_columns), with_columns(right, comparison.right_columns)


def one_pair(resident: dict, report: dict, comparison: NameComparison | None = None):
    """(level, reason, tf_name) of one pair through encode / levels / reasons / extra."""
    comparison = comparison or NameComparison()
    encoded = comparison.encode(*frames([resident], [report]))
    lp = rp = np.zeros(1, dtype=np.int64)
    levels = comparison.levels(encoded, lp, rp)
    return (int(levels[0]), comparison.reasons(encoded, lp, rp, levels)[0],
            comparison.extra(encoded, lp, rp, levels)["tf_name"][0])


NAME_CASES = [
    # resident, report, level
    (person("李伟", "li wei", ["li wei"]), person("李伟", "li wei", ["li wei"]), 6),
    (person("李伟", "li wei", ["li wei"]), person("李玮", "li wei", ["li wei"]), 5),
    (person("吴春花", "wu chun hua", ["wu chun hua", "hu chun hua"]),
     person("胡春花", "hu chun hua", ["hu chun hua", "wu chun hua"]), 4),
    (person("刘兰", "liu lan", ["liu lan", "niu nan"]), person("牛南", "niu nan", ["niu nan", "liu lan"]), 4),
    (person("陈家明", "chen jia ming", ["chen jia ming"], "can gaa ming"),
     person("陈嘉铭", "chen jia ming2", ["chen jia ming2"], "can gaa ming"), 3),
    (person("王兴江", "wang xing jiang", ["wang xing jiang"]),
     person("王山江", "wang shan jiang", ["wang shan jiang"]), 2),
    (person("二娃", "er wa", ["er wa"], kind="nickname"),
     person("张建国", "zhang jian guo", ["zhang jian guo"], alias=["二娃"], alias_keys=["er wa"]), 1),
    (person("小军", "xiao jun", ["xiao jun"], given=["jun"], kind="partial"),
     person("刘军", "liu jun", ["liu jun"], given=["jun"], surname=["liu"]), 1),
    (person("廖", "liao", ["liao"], surname=["liao"], kind="surname_only"),
     person("萧廖", "xiao liao", ["xiao liao"], surname=["liao", "xiao liao"]), 1),
    (person("阿英", "a ying", ["a ying"], given=["ying"], kind="partial"),
     person("陈秀英", "chen xiu ying", ["chen xiu ying"], given=["xiu ying"], surname=["chen"]), 1),
    (person("明廷", "ming ting", ["ming ting"], given=["ting"], surname=["ming"]),
     person("陈明廷", "chen ming ting", ["chen ming ting"], given=["ming ting"], surname=["chen"]), 1),
    (person("阿英", "a ying", ["a ying"], given=["ying"], kind="partial"),
     person("陈英华", "chen ying hua", ["chen ying hua"], given=["ying hua"], surname=["chen"]), 0),
    (person("老薛", "lao xue", ["lao xue"], given=["xue"], kind="partial"),
     person("薛宇宏", "xue yu hong", ["xue yu hong"], given=["yu hong"], surname=["xue"]), 1),
    (person("小黄", "xiao huang", ["xiao huang"], given=["huang"], kind="partial"),
     person("黄芳", "huang fang", ["huang fang"], given=["fang"], surname=["huang"]), 1),
    (person("老薛", "lao xue", ["lao xue"], given=["xue"], kind="partial"),
     person("李宇宏", "li yu hong", ["li yu hong"], given=["yu hong"], surname=["li"]), 0),
    (person("赵大山", "zhao da shan", ["zhao da shan"]), person("钱小红", "qian xiao hong", ["qian xiao hong"]), 0),
    (person(alias=["二娃"], alias_keys=["er wa"], kind="blank"), person("二娃", "er wa", ["er wa"], kind="nickname"),
     1),
    (person("党新", "dang xin", ["dang xin"], kind="assigned", evidence=False),
     person("党新", "dang xin", ["dang xin"]), -1),
    (person("无名氏", kind="placeholder", evidence=False), person("李伟", "li wei", ["li wei"]), -1),
    (person(kind="blank", evidence=False), person("李伟", "li wei", ["li wei"]), -1),
    (person("李伟", "li wei", ["li wei"]), person(kind="blank"), -1),
]


@pytest.mark.parametrize("resident, report, level", NAME_CASES)
def test_name_levels(resident, report, level):
    assert oracle.name_level(resident, report) == level
    assert one_pair(resident, report)[0] == level


@pytest.mark.parametrize("resident, report, level", NAME_CASES)
def test_name_symmetric(resident, report, level):
    assert one_pair(report, resident)[0] == one_pair(resident, report)[0]


# what met at level 1: (resident, report, shown left, shown right, how, keys that met)
PARTIAL_CASES = [
    (person("周俊翰", "zhou jun han", ["zhou jun han"], alias=["二娃"], alias_keys=["er wa"]),
     person("吴雷", "wu lei", ["wu lei"], alias=["二娃"], alias_keys=["er wa"]), "二娃", "二娃", "alias", {"er wa"}),
    (person("二娃", "er wa", ["er wa"], kind="nickname"),
     person("张建国", "zhang jian guo", ["zhang jian guo"], alias=["二娃"], alias_keys=["er wa"]),
     "二娃", "二娃", "alias", {"er wa"}),
    (person("钱海", "qian hai", ["qian hai"], alias=["铁蛋儿"], alias_keys=["tie dan"]),
     person("孙福", "sun fu", ["sun fu"], alias=["铁旦"], alias_keys=["tie dan"]),
     "铁蛋儿", "铁旦", "alias", {"tie dan"}),
    (person("明廷", "ming ting", ["ming ting"], given=["ting"], surname=["ming"]),
     person("陈明廷", "chen ming ting", ["chen ming ting"], given=["ming ting"], surname=["chen"]),
     "明廷", "陈明廷", "given", {"ming ting"}),
    (person("阿英", "a ying", ["a ying"], given=["ying"], kind="partial"),
     person("陈秀英", "chen xiu ying", ["chen xiu ying"], given=["xiu ying"], surname=["chen"]),
     "阿英", "陈秀英", "given", {"ying"}),
    (person("老薛", "lao xue", ["lao xue"], given=["xue"], kind="partial"),
     person("薛宇宏", "xue yu hong", ["xue yu hong"], given=["yu hong"], surname=["xue"]),
     "老薛", "薛宇宏", "surname", {"xue"}),
    (person("廖", "liao", ["liao"], surname=["liao"], kind="surname_only"),
     person("萧廖", "xiao liao", ["xiao liao"], surname=["liao", "xiao liao"]), "廖", "萧廖", "surname", {"liao"}),
]


@pytest.mark.parametrize("resident, report, left, right, how, keys", PARTIAL_CASES)
def test_partial_match_says_what_met(resident, report, left, right, how, keys):
    assert partial_match(resident, report) == PartialMatch(left, right, how, frozenset(keys))
    assert partial_match(report, resident) == PartialMatch(right, left, how, frozenset(keys))
    assert tuple(oracle.partial_match(resident, report)) == (left, right, how, frozenset(keys))


@pytest.mark.parametrize("resident, report, level", [c for c in NAME_CASES if c[2] != 1])
def test_partial_match_only_at_level_1(resident, report, level):
    assert partial_match(resident, report) is None


NAME_REASONS = [
    # resident, report, reason
    (PARTIAL_CASES[0][0], PARTIAL_CASES[0][1], "部分姓名或小名相符(二娃/二娃 小名)"),
    (PARTIAL_CASES[1][0], PARTIAL_CASES[1][1], "部分姓名或小名相符(二娃/二娃 小名)"),
    (PARTIAL_CASES[2][0], PARTIAL_CASES[2][1], "部分姓名或小名相符(铁蛋儿/铁旦 小名)"),
    (PARTIAL_CASES[5][0], PARTIAL_CASES[5][1], "部分姓名或小名相符(老薛/薛宇宏 同姓)"),
    (PARTIAL_CASES[3][0], PARTIAL_CASES[3][1], "部分姓名或小名相符(明廷/陈明廷 名字)"),
    (person("李伟", "li wei", ["li wei"]), person("李玮", "li wei", ["li wei"]), "姓名同音(李伟/李玮)"),
    (person("赵大山", "zhao da shan", ["zhao da shan"]), person("钱小红", "qian xiao hong", ["qian xiao hong"]),
     "姓名不同(赵大山/钱小红)"),
    # no normalized name: the name as written, else the first alias, else ?
    (person(raw="赵 大山", alias=["大山子"], kind="blank"), person("钱小红", "qian xiao hong", ["qian xiao hong"]),
     "姓名不同(赵 大山/钱小红)"),
    (person(alias=["二娃", "狗蛋"], alias_keys=["er wa", "gou dan"], kind="blank"),
     person("钱小红", "qian xiao hong", ["qian xiao hong"]), "姓名不同(二娃/钱小红)"),
    (person("党新", "dang xin", ["dang xin"], kind="assigned", evidence=False), person("党新"), "无可用姓名"),
]


@pytest.mark.parametrize("resident, report, text", NAME_REASONS)
def test_name_reason_shows_what_met(resident, report, text):
    level, reason, _ = one_pair(resident, report)
    assert reason == text
    assert oracle.reason(level, resident, report) == text


def _reports_with_nicknames(n_erwa: int, n_other: int) -> list[dict]:
    rows = [person(f"王{i}", f"wang {i}", [f"wang {i}"], alias=["二娃"], alias_keys=["er wa"]) for i in range(n_erwa)]
    rows += [person(f"李{i}", f"li {i}", [f"li {i}"], alias=["铁蛋儿"] if i == 0 else [],
                    alias_keys=["tie dan"] if i == 0 else []) for i in range(n_other)]
    return rows


def test_key_frequency_counts_partial_forms_apart_from_full_names():
    reports = _reports_with_nicknames(30, 70)
    reports[99] = reports[99] | {"name_norm": "二娃", "name_keys": ("er wa",)}  # one report is *named* 二娃
    frequency = key_frequency(pd.DataFrame(reports))
    assert frequency["er wa"] == pytest.approx(0.01)  # full-name table: only the report named 二娃
    assert frequency[PARTIAL_KEY + "er wa"] == pytest.approx(0.31)  # 30 小名 + 1 name
    assert frequency[PARTIAL_KEY + "tie dan"] == pytest.approx(0.01)
    assert frequency == oracle.name_key_frequency(pd.DataFrame(reports))


def test_tf_name_of_a_shared_nickname_is_its_share_of_reports():
    # a shared 二娃 (a third of reports) must weigh less than a shared 铁蛋儿 (one report):
    # tf_name carries each key's share so the model's tf adjustment can price it
    residents = [person("周俊翰", "zhou jun han", ["zhou jun han"], alias=["二娃"], alias_keys=["er wa"]),
                 person("赵刚", "zhao gang", ["zhao gang"], alias=["铁蛋儿"], alias_keys=["tie dan"]),
                 person("王0", "wang 0", ["wang 0"])]
    comparison = NameComparison()
    encoded = comparison.encode(*frames(residents, _reports_with_nicknames(30, 70)))
    lp, rp = np.array([0, 1, 0, 2]), np.array([0, 30, 31, 0])
    levels = comparison.levels(encoded, lp, rp)
    tf = comparison.extra(encoded, lp, rp, levels)["tf_name"]
    assert levels.tolist() == [1, 1, 0, 6]
    np.testing.assert_allclose(tf, [0.30, 0.01, np.nan, 0.01])  # full-name tf of 王0 unchanged


def test_a_given_frequency_table_is_used_as_given():
    table = {"li wei": 0.25, PARTIAL_KEY + "er wa": 0.5}
    comparison = NameComparison(frequency=table)
    assert comparison.get_params() == {"frequency": table}
    assert NameComparison(**comparison.to_dict()["params"]).get_params() == {"frequency": table}  # JSON settings
    assert one_pair(person("李伟", "li wei", ["li wei"]), person("李玮", "li wei", ["li wei"]), comparison)[2] == 0.25
    assert one_pair(*PARTIAL_CASES[1][:2], comparison)[2] == 0.5
    # a shared key the table does not hold: full names count it as never seen, partial ones fall back to NaN
    assert one_pair(person("王芳", "wang fang", ["wang fang"]), person("王芳", "wang fang", ["wang fang"]),
                    comparison)[2] == 0.0
    assert np.isnan(one_pair(*PARTIAL_CASES[2][:2], comparison)[2])


def test_names_without_a_common_token_are_decided_without_the_tests(monkeypatch):
    def forbidden(a, b):
        raise AssertionError(f"forms_level ran on {a.name}/{b.name}")

    comparison = NameComparison()
    encoded = comparison.encode(*frames([person("赵大山", "zhao da shan", ["zhao da shan"])],
                                        [person("钱小红", "qian xiao hong", ["qian xiao hong"]),
                                         person("党新", "dang xin", ["dang xin"], kind="assigned", evidence=False)]))
    monkeypatch.setattr(name_module, "forms_level", forbidden)
    assert comparison.levels(encoded, np.array([0, 0]), np.array([0, 1])).tolist() == [0, -1]


def test_declared_like_the_old_tables():
    comparison = NameComparison()
    assert comparison.labels == oracle.LABELS
    assert (comparison.ordered, comparison.agree_from, comparison.title) == (False, 4, "姓名")
    assert "name" in comparison.left_columns and "name" in comparison.right_columns  # the display name reads it
    assert {c for _, c, _ in comparison.fields} == {"name", "alias"}


POOL = list({repr(r): r for case in NAME_CASES + PARTIAL_CASES + NAME_REASONS for r in case[:2]}.values())
"""Every record of the tables above: each against each covers every level and most branches."""


def test_every_pair_of_the_table_records_equals_the_oracle():
    comparison = NameComparison()
    left, right = frames(POOL, POOL)
    encoded = comparison.encode(left, right)
    lp, rp = (a.ravel() for a in np.meshgrid(np.arange(len(POOL)), np.arange(len(POOL)), indexing="ij"))
    levels = comparison.levels(encoded, lp, rp)
    reasons = comparison.reasons(encoded, lp, rp, levels)
    tf = comparison.extra(encoded, lp, rp, levels)["tf_name"]
    frequency = oracle.name_key_frequency(right)
    expected = [oracle.name_level(POOL[i], POOL[j]) for i, j in zip(lp, rp)]
    assert levels.tolist() == expected
    assert set(expected) == set(range(-1, 7))
    assert reasons.tolist() == [oracle.reason(level, POOL[i], POOL[j]) for level, i, j in zip(expected, lp, rp)]
    np.testing.assert_array_equal(tf, [oracle.tf_name(level, POOL[i], POOL[j], frequency)
                                       for level, i, j in zip(expected, lp, rp)])
    assert comparison.levels(encoded, rp, lp).tolist() == expected  # symmetric


def test_empty_frames_and_no_pairs():
    comparison = NameComparison()
    nothing = np.zeros(0, dtype=np.int64)
    for residents, reports in (([], []), (POOL[:3], [])):
        encoded = comparison.encode(*frames(residents, reports))
        levels = comparison.levels(encoded, nothing, nothing)
        assert levels.dtype == np.int8 and len(levels) == 0
        assert len(comparison.reasons(encoded, nothing, nothing, levels)) == 0
        assert len(comparison.extra(encoded, nothing, nothing, levels)["tf_name"]) == 0


# ---------------------------------------------------------------------------------------------
# simulated records: every pair equals the oracle


@pytest.fixture(scope="module", params=[3, 17])
def simulated(request):
    from kinmatch import normalize_missing, normalize_residents
    from kinmatch.datasets.simulate import simulate

    sim = simulate(n_missing=3000, n_residents=300, seed=request.param)
    residents, _ = normalize_residents(sim.residents)
    missing, _ = normalize_missing(sim.missing)
    rng = np.random.default_rng(request.param)
    # pairs: the true ones, random ones, and ones sharing a sound key in any name form
    random = pd.DataFrame({"resident_id": rng.choice(residents["resident_id"], 4000),
                           "missing_id": rng.choice(missing["missing_id"], 4000)})
    forms = ("name_keys", "alias_keys", "given_keys", "surname_keys")

    def keyed(frame, id_column):
        rows = [(i, k) for c in forms for i, keys in zip(frame[id_column], frame[c]) for k in keys]
        return pd.DataFrame(rows, columns=[id_column, "key"]).drop_duplicates()

    sharing = keyed(residents, "resident_id").merge(keyed(missing, "missing_id"), on="key")
    sharing = sharing.sample(min(len(sharing), 6000), random_state=request.param)
    pairs = pd.concat([sim.truth[["resident_id", "missing_id"]], random, sharing[["resident_id", "missing_id"]]])
    pairs = pairs.astype(str).drop_duplicates().reset_index(drop=True)
    return residents, missing, pairs


def test_simulated_pairs_equal_the_oracle(simulated):
    residents, missing, pairs = simulated
    comparison = NameComparison()
    encoded = comparison.encode(with_columns(residents, comparison.left_columns),
                                with_columns(missing, comparison.right_columns))
    lp = pd.Index(residents["resident_id"]).get_indexer(pairs["resident_id"])
    rp = pd.Index(missing["missing_id"]).get_indexer(pairs["missing_id"])
    levels = comparison.levels(encoded, lp, rp)
    reasons = comparison.reasons(encoded, lp, rp, levels)
    tf = comparison.extra(encoded, lp, rp, levels)["tf_name"]

    res, rep = residents.to_dict("records"), missing.to_dict("records")
    frequency = oracle.name_key_frequency(missing)
    assert encoded.frequency == frequency
    expected_levels, expected_reasons, expected_tf = [], [], []
    for i, j in zip(lp.tolist(), rp.tolist()):
        level = oracle.name_level(res[i], rep[j])
        expected_levels.append(level)
        expected_reasons.append(oracle.reason(level, res[i], rep[j]))
        expected_tf.append(oracle.tf_name(level, res[i], rep[j], frequency))
    assert levels.dtype == np.int8
    assert levels.tolist() == expected_levels
    assert reasons.tolist() == expected_reasons
    np.testing.assert_array_equal(tf, np.array(expected_tf))
    # the set reaches the levels the shortcuts decide and those the tests decide
    assert set(expected_levels) >= {-1, 0, 1, 2, 4, 5, 6}
    # symmetric: the same level with the sides swapped
    swapped = comparison.encode(with_columns(missing.rename(columns={"missing_id": "resident_id"}),
                                             comparison.left_columns),
                                with_columns(residents.rename(columns={"resident_id": "missing_id"}),
                                             comparison.right_columns))
    assert comparison.levels(swapped, rp, lp).tolist() == expected_levels


def test_through_the_engine(simulated):
    residents, missing, pairs = simulated
    vectors = compare_pairs(pairs, residents, missing, comparisons=[NameComparison()])
    assert list(vectors.columns) == ["name", "tf_name"]
    res = residents.set_index("resident_id").to_dict("index")
    rep = missing.set_index("missing_id").to_dict("index")
    frequency = oracle.name_key_frequency(missing)
    sample = vectors.sample(2000, random_state=0)
    for (rid, mid), row in sample.iterrows():
        level = oracle.name_level(res[rid], rep[mid])
        assert row["name"] == level, (rid, mid)
        np.testing.assert_equal(row["tf_name"], oracle.tf_name(level, res[rid], rep[mid], frequency))


@pytest.mark.parametrize("source", ["tables", "simulated"])
def test_signatures_share_a_bit_wherever_the_names_share_a_token(source, simulated):
    if source == "tables":
        left, right = frames(POOL, POOL[::-1])
    else:
        residents, missing, _ = simulated
        comparison = NameComparison()
        left, right = with_columns(residents, comparison.left_columns), with_columns(missing, comparison.right_columns)
    encoded = name_module._encode_side(left), name_module._encode_side(right)
    sides = encoded[0].forms, encoded[1].forms
    signatures = name_module._form_signatures(*encoded)
    assert [s.shape for s in signatures] == [(len(f), name_module.SIGNATURE_BITS // 64) for f in sides]
    assert all(s.dtype == np.uint64 for s in signatures)
    tokens = [[name_module._name_tokens(f) for f in forms] for forms in sides]
    a, b = np.arange(len(sides[0])).repeat(len(sides[1])), np.tile(np.arange(len(sides[1])), len(sides[0]))
    if len(a) > 400_000:
        keep = np.random.default_rng(0).choice(len(a), 400_000, replace=False)
        a, b = a[keep], b[keep]
    shared = np.array([not tokens[0][i].isdisjoint(tokens[1][j]) for i, j in zip(a.tolist(), b.tolist())])
    may = name_module._may_share_a_token(*signatures, a, b)
    assert may[shared].all()  # never a shared token missed
    assert shared.any() and (~may[~shared]).mean() > 0.5  # and most names without one told apart
    for side, own in zip(signatures, tokens):  # a form's bits: at most one per token, none without tokens
        ones = np.unpackbits(side.view(np.uint8), axis=1).sum(axis=1)
        assert (ones <= [len(t) for t in own]).all() and (ones > 0).tolist() == [bool(t) for t in own]
    empty = name_module._form_signatures(name_module._encode_side(left.iloc[:0]), encoded[1])
    assert empty[0].shape == (0, name_module.SIGNATURE_BITS // 64) and empty[1].shape == signatures[1].shape
    assert ((empty[1] != 0).any(axis=1) == (signatures[1] != 0).any(axis=1)).all()


def test_distinct_rows_numbers_rows_as_nested_factorizing_does():
    from kinmatch.match.comparisons.base import distinct_rows

    def nested(*keys):  # the plain way: renumber after every key
        combined = np.zeros(len(keys[0]), dtype=np.int64)
        for key in keys:
            combined = pd.factorize(combined * (int(key.max(initial=0)) + 1) + key)[0].astype(np.int64)
        return pd.factorize(combined)[0]

    rng = np.random.default_rng(3)
    for keys in ([rng.integers(0, 5, 1000), rng.integers(0, 7, 1000)],
                 [rng.integers(0, 2 ** 40, 1000), rng.integers(0, 3, 1000).repeat(2)[:1000] * 2 ** 39,
                  rng.integers(0, 4, 1000)],  # the combined code must be renumbered to stay in int64
                 [np.zeros(0, dtype=np.int64)]):
        codes, first = distinct_rows(*keys)
        assert codes.tolist() == nested(*keys).tolist()
        assert all(codes[f] == c for c, f in enumerate(first.tolist()))
        assert first.tolist() == sorted(first.tolist())
