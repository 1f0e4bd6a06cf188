"""The normalized-frame contract: normalizers emit strict types, check_normalized names what breaks."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinmatch.errors import InputError
from kinmatch.normalize.contract import (
    KINDS,
    NORMALIZED_COLUMNS,
    NormalizedFrameError,
    blank_value,
    check_normalized,
)
from kinmatch.normalize.records import MISSING_COLUMNS, RESIDENT_COLUMNS, normalize_missing, normalize_residents

RESIDENT_FIELDS = ["name", "name_source", "alias", "sex", "age", "birth_date", "height", "found_date",
                   "found_place", "accent", "description", "health", "statements"]
MISSING_FIELDS = ["name", "alias", "sex", "birth_date", "age", "height", "missing_date", "missing_place",
                  "hometown", "dialect", "description", "health"]

# Pieces that real intake text is made of: names (simplified, traditional, minority), places, ages,
# dates, heights, marks, full-width digits and letters, markers of "unknown", separators, blanks.
PIECES = ["李伟", "歐陽建國", "蕭廖美玉", "阿卜杜拉·买买提", "无名氏", "党小红", "二娃", "老王", "Chan Tai Man",
          "四川省广安市邻水县", "鄭州市", "某地", "红旗公社", "约60岁", "五六十岁", "１７２ｃｍ", "一米七",
          "2023-11-05", "2023年13月", "1958年", "男", "女", "未知", "9", "左脸有黑痣", "无纹身", "偏瘦", "头发花白",
          "疑似老年痴呆", "四川口音", "说家在邻水县，父亲叫王大山", "提到“刘岩”", "、", "，", "；", "·", " ", "　",
          "（音）", "?", "0", "ＡＢ", "\t", "nan", "None"]

text_value = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join),
    st.text(max_size=12),
    st.sampled_from(["", " ", "　", "-", "无", "不详"]),
)
messy_value = st.one_of(text_value, text_value, st.none(), st.just(float("nan")), st.just(pd.NA), st.integers(-5, 3000),
                        st.floats(allow_nan=True, allow_infinity=True))


def messy_frame(fields, id_column, prefix):
    row = st.fixed_dictionaries({field: messy_value for field in fields})
    return st.lists(row, min_size=1, max_size=8).map(
        lambda rows: pd.DataFrame(rows, columns=fields, dtype=object).assign(
            **{id_column: [f"{prefix}{i:04d}" for i in range(len(rows))]}))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_frame(RESIDENT_FIELDS, "resident_id", "R"))
def test_normalize_residents_output_passes_the_contract(frame):
    normalized, _ = normalize_residents(frame, n_jobs=1)
    check_normalized(normalized, "resident")
    assert set(RESIDENT_COLUMNS) <= set(normalized.columns)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_frame(MISSING_FIELDS, "missing_id", "M"))
def test_normalize_missing_output_passes_the_contract(frame):
    normalized, _ = normalize_missing(frame, n_jobs=1)
    check_normalized(normalized, "missing")
    assert set(MISSING_COLUMNS) <= set(normalized.columns)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_frame(RESIDENT_FIELDS, "resident_id", "R"), st.sampled_from(["alias", "description", "name"]),
       st.lists(st.one_of(st.sampled_from(PIECES), st.none(), st.just(pd.NA), st.just(float("nan"))), max_size=3))
def test_list_and_pd_na_cells_normalize_to_the_contract(frame, field, cell):
    """Hand-built frames may hold list cells and pd.NA; neither leaks into the output."""
    frame[field] = pd.Series([cell] + [pd.NA] * (len(frame) - 1), dtype=object)
    normalized, _ = normalize_residents(frame, n_jobs=1)
    check_normalized(normalized, "resident")
    for column in ("alias_norm", "marks", "name_norm"):
        assert "<na>" not in str(normalized[column].tolist()).lower()


# ---------------------------------------------------------------------------------------------
# check_normalized rejects a broken cell, naming its column and row

def _base_frames():
    from kinmatch.datasets import simulate

    sim = simulate(n_missing=25, n_residents=25, seed=5)
    return {"resident": normalize_residents(sim.residents, n_jobs=1)[0],
            "missing": normalize_missing(sim.missing, n_jobs=1)[0]}


BASE = _base_frames()

BREAKAGES = {
    "text": [float("nan"), "", ["李伟"], ("李伟",), 5, pd.NA, np.str_("李伟")],
    "texts": [["痣:脸:左"], "痣:脸:左", None, float("nan"), ("",), ("痣:脸:左", None), (5,), frozenset({"a"}),
              ("痣:脸:左", ""), (["痣"],)],
    "number": ["170", None, ["170"], pd.Timestamp("2020-01-01")],
    "date": ["2023-01-01", 20230101, None],
    "flag": [None, "True", float("nan"), 1],
}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["resident", "missing"]), st.data())
def test_check_normalized_names_the_broken_cell(kind, data):
    frame = BASE[kind].copy()
    column = data.draw(st.sampled_from([c for c in frame.columns if c in NORMALIZED_COLUMNS]))
    position = data.draw(st.integers(0, len(frame) - 1))
    bad = data.draw(st.sampled_from(BREAKAGES[NORMALIZED_COLUMNS[column]]))
    values = frame[column].to_numpy(dtype=object).copy()
    values[position] = bad
    frame[column] = pd.Series(values, index=frame.index, dtype=object)
    id_column = f"{kind}_id"
    with pytest.raises(NormalizedFrameError) as raised:
        check_normalized(frame, kind)
    error = raised.value
    assert isinstance(error, InputError)
    assert error.column == column
    message = str(error)
    assert message.startswith(f"column {column}")
    assert f"normalize_{'residents' if kind == 'resident' else 'missing'}" in message
    if error.position is not None:  # a cell-level error: the broken cell itself
        assert error.position == position
        assert error.record_id == frame[id_column].iloc[position]
        assert f"row {position} ({id_column} {frame[id_column].iloc[position]!r})" in message
    else:  # only a column of valid cells in the wrong dtype has no row to name
        assert NORMALIZED_COLUMNS[column] in ("number", "date", "flag")
        assert "dtype" in message


@pytest.mark.parametrize("kind", ["resident", "missing"])
def test_normalized_frames_pass_and_absent_or_extra_columns_are_allowed(kind):
    frame = BASE[kind]
    check_normalized(frame, kind)
    contract = [c for c in frame.columns if c in NORMALIZED_COLUMNS]
    check_normalized(frame.drop(columns=contract[::2]), kind)  # absent columns: linking fills them
    check_normalized(frame.assign(备注=[["任意"]] * len(frame)), kind)  # not a contract column
    check_normalized(frame.iloc[:0], kind)


def test_the_message_teaches():
    frame = pd.DataFrame({"resident_id": [f"R{i:04d}" for i in range(20)], "marks": [()] * 20})
    frame.at[17, "marks"] = ["痣:脸:左"]
    with pytest.raises(InputError, match=r"column marks, row 17 \(resident_id 'R0017'\): \['痣:脸:左'\] is a list; "
                                         r"normalized multi-valued columns hold tuples of non-empty text.*"
                                         r"run kinmatch.normalize_residents on the canonical frame.*tuple\(\)"):
        check_normalized(frame, "resident")


@pytest.mark.parametrize("column,series,expected", [
    ("age_low", pd.Series([True, False]), "dtype bool"),
    ("event_date", pd.Series(["2023-01-01", "2023-02-01"]), "row 0"),
    ("name_evidence", pd.Series([1, 0]), "dtype int64"),
    ("name_norm", pd.Series([1.0, float("nan")]), "row 0"),
])
def test_wrong_dtype_columns_are_named(column, series, expected):
    frame = pd.DataFrame({"missing_id": ["M1", "M2"], column: series})
    with pytest.raises(NormalizedFrameError, match=expected) as raised:
        check_normalized(frame, "missing")
    assert raised.value.column == column


def test_integer_number_columns_are_accepted():
    check_normalized(pd.DataFrame({"missing_id": ["M1"], "birth_year_low": [1960], "height_cm": [170]}), "missing")


def test_blank_values_pass_the_contract():
    n = 3
    frame = pd.DataFrame({"resident_id": ["R1", "R2", "R3"]})
    for column, kind in NORMALIZED_COLUMNS.items():
        blank = blank_value(kind)
        frame[column] = pd.Series([blank] * n, dtype={"number": float, "date": "datetime64[ns]",
                                                      "flag": bool}.get(kind, object))
    check_normalized(frame, "resident")
    check_normalized(frame, "missing")
    assert math.isnan(blank_value("number")) and blank_value("texts") == () and blank_value("text") is None
    assert blank_value("date") is pd.NaT and blank_value("flag") is False
    with pytest.raises(ValueError, match="kind must be one of"):
        blank_value("tuple")


def test_normalized_columns_cover_both_normalizers_with_known_kinds():
    assert list(NORMALIZED_COLUMNS) == list(dict.fromkeys(RESIDENT_COLUMNS + MISSING_COLUMNS))
    assert set(NORMALIZED_COLUMNS.values()) == set(KINDS)
    assert NORMALIZED_COLUMNS["marks"] == "texts" and NORMALIZED_COLUMNS["found_lon"] == "number"
    assert NORMALIZED_COLUMNS["event_date"] == "date" and NORMALIZED_COLUMNS["name_evidence"] == "flag"
    assert NORMALIZED_COLUMNS["found_county"] == "text"


def test_check_normalized_rejects_what_is_not_a_frame():
    with pytest.raises(InputError, match="DataFrame"):
        check_normalized([{"resident_id": "R1"}], "resident")
    with pytest.raises(ValueError, match="kind"):
        check_normalized(BASE["resident"], "residents")


@pytest.mark.parametrize("normalize,kind", [(normalize_residents, "resident"), (normalize_missing, "missing")])
def test_normalizing_a_normalized_frame_still_passes(normalize, kind):
    again, _ = normalize(BASE[kind], n_jobs=1)
    check_normalized(again, kind)
