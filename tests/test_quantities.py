import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.normalize.quantities import (
    AgeRange,
    Height,
    age_to_birth_years,
    is_unknown,
    parse_age,
    parse_ages,
    parse_date,
    parse_dates,
    parse_height,
    parse_heights,
    parse_sex,
    parse_sexes,
)

TS = pd.Timestamp

# --- dates ---------------------------------------------------------------------------------

DATE_CASES = [
    ("2023-11-05", "2023-11-05", "day"),
    ("2023/11/5", "2023-11-05", "day"),
    ("2023年11月5日", "2023-11-05", "day"),
    ("2023年11月5号", "2023-11-05", "day"),
    ("2023.11.05", "2023-11-05", "day"),
    ("2023.11", "2023-11-01", "month"),
    ("2023年11月", "2023-11-01", "month"),
    ("2023-11", "2023-11-01", "month"),
    ("20231105", "2023-11-05", "day"),
    ("202311", "2023-11-01", "month"),
    ("2023", "2023-01-01", "year"),
    ("2023年", "2023-01-01", "year"),
    ("2023-11-05 14:30", "2023-11-05", "day"),
    ("2023-11-05T14:30:00", "2023-11-05", "day"),
    ("2023年11月5日下午3时许", "2023-11-05", "day"),
    ("2023年11月5日14时30分", "2023-11-05", "day"),
    ("2023-11-05 00:00:00", "2023-11-05", "day"),
    ("2023/11/5 0:00", "2023-11-05", "day"),
    ("民国三十八年", "1949-01-01", "year"),
    ("民国38年10月1日", "1949-10-01", "day"),
    ("农历1960年八月十五", "1960-01-01", "year"),
    ("阴历一九六〇年", "1960-01-01", "year"),
    ("农历1960年腊月", "1961-01-01", "year"),
    ("农历1960年十二月初八", "1961-01-01", "year"),
    ("农历1960年正月初一", "1960-01-01", "year"),
    ("2023年11月5日星期日", "2023-11-05", "day"),
    ("2023-11-05（周日）", "2023-11-05", "day"),
    ("2023年11月上旬", "2023-11-01", "month"),
    ("45235", "2023-11-05", "day"),
    ("45235.5", "2023-11-05", "day"),
    ("２０２３年１１月５日", "2023-11-05", "day"),
    ("二〇二三年十一月五日", "2023-11-05", "day"),
    ("一九六〇年", "1960-01-01", "year"),
    ("约2023年11月初", "2023-11-01", "month"),
    ("1960年(估)", "1960-01-01", "year"),
    (" 2023-11-05 ", "2023-11-05", "day"),
    (dt.datetime(2023, 11, 5, 14, 30), "2023-11-05", "day"),
    (dt.date(2023, 11, 5), "2023-11-05", "day"),
    (TS("2023-11-05"), "2023-11-05", "day"),
    (20231105, "2023-11-05", "day"),
    (45235.0, "2023-11-05", "day"),
    (2023, "2023-01-01", "year"),
]


@pytest.mark.parametrize("text, expected, precision", DATE_CASES)
def test_parse_date(text, expected, precision):
    assert parse_date(text) == (TS(expected), precision)


@pytest.mark.parametrize(
    "text",
    ["2023年13月", "2023-02-30", "2023-11-31", "garbage", "去年冬天", "11/5", "", None, float("nan"),
     "2023年13月5日", "0000-01-01", pd.NaT, "23.11.5", "2023-11-15时", "农历", "农历1960年13月"],
)
def test_parse_date_invalid(text):
    assert parse_date(text) == (None, None)


def test_parse_dates_vectorized_and_typed():
    series = pd.Series(["2023-11-05", "2023年11月", None, "2023", "2023年13月", "2023-11-05"],
                       index=[10, 11, 12, 13, 14, 15])
    out = parse_dates(series)
    assert list(out.index) == [10, 11, 12, 13, 14, 15]
    assert out["value"].dtype == "datetime64[ns]"
    assert out["precision"].tolist() == ["day", "month", None, "year", None, "day"]
    assert out.loc[11, "value"] == TS("2023-11-01")
    assert pd.isna(out.loc[14, "value"])


# --- ages ----------------------------------------------------------------------------------

REF = "2023-11-05"
AGE_CASES = [
    ("60", 57, 63, "point"),
    ("60岁", 57, 63, "point"),
    ("60周岁", 57, 63, "point"),
    ("约60岁", 55, 65, "approx"),
    ("60岁左右", 55, 65, "approx"),
    ("六十岁左右", 55, 65, "approx"),
    ("大约六十", 55, 65, "approx"),
    ("走失时约68岁", 63, 73, "approx"),
    ("目测70岁", 67, 73, "point"),
    ("60多岁", 61, 69, "decade"),
    ("六十多岁", 61, 69, "decade"),
    ("60余岁", 61, 69, "decade"),
    ("3岁多", 3, 4, "decade"),
    ("二十岁出头", 20, 23, "decade"),
    ("五六十岁", 50, 69, "range"),
    ("七八十岁", 70, 89, "range"),
    ("十七八岁", 17, 18, "range"),
    ("三十五六岁", 35, 36, "range"),
    ("三四岁", 3, 4, "range"),
    ("60-65岁", 60, 65, "range"),
    ("60~65", 60, 65, "range"),
    ("60至65岁", 60, 65, "range"),
    ("65-60", 60, 65, "range"),
    ("60岁以上", 60, 80, "open"),
    ("5岁", 4, 6, "point"),
    ("约5岁", 3, 7, "approx"),
    ("3岁半", 3.5, 3.5, "point"),
    ("一百零二岁", 99, 105, "point"),
    ("1960年(估)", 59, 66, "birth_year"),
    ("1960年生", 62, 63, "birth_year"),
    ("１９６０年（估）", 59, 66, "birth_year"),
    ("80后", 33, 43, "cohort"),
    ("85后", 33, 38, "cohort"),
    ("00后", 13, 23, "cohort"),
    ("婴儿", 0, 1, "category"),
    ("老年人", 60, 95, "category"),
    ("60.0", 57, 63, "point"),
    ("60来岁", 55, 65, "approx"),
    ("六十来岁", 55, 65, "approx"),
    ("40+", 41, 49, "decade"),
    ("自称65岁", 62, 68, "point"),
    ("65岁(自述)", 62, 68, "point"),
    ("约60-65岁", 60, 65, "range"),
    ("十几二十岁", 13, 22, "range"),
    ("二十几三十岁", 23, 32, "range"),
    ("五十开外", 50, 59, "open"),
    ("十几岁", 11, 19, "decade"),
    ("虚岁60", 56, 62, "point"),
    ("虚岁六十多", 60, 68, "decade"),
    ("三十好几", 33, 39, "decade"),
    ("五十好几岁", 53, 59, "decade"),
    ("六十挂零", 60, 63, "decade"),
    ("年近七十", 66, 70, "open"),
    ("快七十了", 66, 70, "open"),
    ("不到三十", 26, 30, "open"),
    ("三十不到", 26, 30, "open"),
    ("六七十岁的样子", 60, 79, "range"),
    ("看着有五十多", 51, 59, "decade"),
    ("七八十岁", 70, 89, "range"),
    ("四十来岁", 35, 45, "approx"),
    ("二十出头", 20, 23, "decade"),
    ("70岁上下", 65, 75, "approx"),
    ("约莫六十", 55, 65, "approx"),
]


@pytest.mark.parametrize("text, low, high, kind", AGE_CASES)
def test_parse_age(text, low, high, kind):
    age = parse_age(text, ref_date=REF)
    assert (age.low, age.high, age.kind) == (low, high, kind)


def test_parse_age_years_and_months():
    age = parse_age("1岁3个月")
    assert age.kind == "months"
    assert age.low == pytest.approx(14 / 12) and age.high == pytest.approx(16 / 12)
    assert parse_age("一岁三个月")[:2] == age[:2]


def test_parse_age_months():
    age = parse_age("3个月")
    assert age.kind == "months"
    assert age.low == pytest.approx(2 / 12) and age.high == pytest.approx(4 / 12)


@pytest.mark.parametrize("text", ["", None, "不详", "未知", "很老", "年轻", "六十岁，智力低下", "abc"])
def test_parse_age_unusable(text):
    assert parse_age(text) is None


def test_birth_year_age_depends_on_reference_date():
    assert parse_age("1960年", ref_date="2000-01-01")[:2] == (39.0, 40.0)
    assert parse_age("1960年", ref_date="2023-06-01")[:2] == (62.0, 63.0)


@pytest.mark.parametrize(
    "text, ref, years",
    [
        ("60多岁", REF, (1953, 1962)),
        ("60", REF, (1959, 1966)),
        ("80后", REF, (1980, 1989)),
        ("1960年(估)", REF, (1957, 1963)),
        ("3个月", REF, (2022, 2023)),
    ],
)
def test_age_to_birth_years(text, ref, years):
    assert age_to_birth_years(parse_age(text, ref), ref) == years


def test_age_to_birth_years_contains_the_truth():
    # Someone born 1958-03-01 is 65 on 2023-11-05: "约65岁" must allow 1958.
    low, high = age_to_birth_years(parse_age("约65岁", REF), REF)
    assert low <= 1958 <= high


@pytest.mark.parametrize(
    "text, tol, low, high",
    [("68", 0, 68, 68), ("68岁", 1, 67, 69), ("约68岁", 0, 63, 73), ("60多岁", 0, 61, 69),
     ("3岁半", 1, 2.5, 4.5), ("1", 2, 0, 3)],
)
def test_point_tolerance_only_changes_plain_numbers(text, tol, low, high):
    assert parse_age(text, point_tol=tol)[:2] == (low, high)
    out = parse_ages(pd.Series([text, None]), point_tol=tol)
    assert out.loc[0, ["low", "high"]].tolist() == [low, high]
    assert np.isnan(out.loc[1, "low"])


def test_parse_ages_with_reference_dates():
    ages = pd.Series(["1960年", "60多岁", None, "1960年"], index=list("abcd"))
    refs = pd.Series(["2000-05-01", "2023-11-05", "2023-11-05", None], index=list("abcd"))
    out = parse_ages(ages, ref_dates=refs)
    assert list(out.index) == list("abcd")
    assert out.loc["a", ["low", "high"]].tolist() == [39.0, 40.0]
    assert out.loc["b", ["birth_year_low", "birth_year_high"]].tolist() == [1953.0, 1962.0]
    assert np.isnan(out.loc["c", "low"]) and out.loc["c", "kind"] is None
    this_year = dt.date.today().year
    assert out.loc["d", "high"] == this_year - 1960  # blank reference date → today


# --- heights -------------------------------------------------------------------------------

HEIGHT_CASES = [
    ("172cm", 172, 1),
    ("172CM", 172, 1),
    ("172厘米", 172, 1),
    ("172公分", 172, 1),
    ("１７２ｃｍ", 172, 1),
    ("1.72米", 172, 1),
    ("1.72m", 172, 1),
    ("1.72", 172, 1),
    ("1.7m", 170, 5),
    ("一米七二", 172, 1),
    ("一米七", 170, 5),
    ("一米八五左右", 185, 5),
    ("1米7", 170, 5),
    ("1米72", 172, 1),
    ("约170", 170, 5),
    ("170左右", 170, 5),
    ("身高约172cm", 172, 5),
    ("165-170", 167.5, 2.5),
    ("165~170cm", 167.5, 2.5),
    ("1.65-1.70米", 167.5, 2.5),
    ("170多", 175, 5),
    ("一米七多", 175, 5),
    ("五尺", 166.7, 5),
    ("五尺二", 173.3, 5),
    ("1720mm", 172, 1),
    ("172.5", 172.5, 1),
    (172, 172, 1),
    (172.0, 172, 1),
    (1.72, 172, 1),
    ("一米六几", 165, 5),
    ("160多厘米", 165, 5),
    ("1m72", 172, 1),
    ("一米五", 150, 5),
    ("五尺三寸", 176.7, 5),
    ("172cm左右", 172, 5),
]


@pytest.mark.parametrize("text, cm, tol", HEIGHT_CASES)
def test_parse_height(text, cm, tol):
    assert parse_height(text) == Height(cm, tol)


@pytest.mark.parametrize("text", ["很高", "中等个子", "", None, "不详", "高", float("nan")])
def test_parse_height_unusable(text):
    assert parse_height(text) is None


def test_parse_heights_vectorized():
    out = parse_heights(pd.Series(["172cm", "很高", None, "一米七"], index=[5, 6, 7, 8]))
    assert out.loc[5].tolist() == [172.0, 1.0]
    assert out.loc[8].tolist() == [170.0, 5.0]
    assert out.loc[[6, 7]].isna().all().all()


# --- sex -----------------------------------------------------------------------------------

SEX_CASES = [
    ("男", "M"), ("女", "F"), ("男性", "M"), ("女性", "F"), ("male", "M"), ("Female", "F"),
    ("M", "M"), ("f", "F"), ("1", "M"), ("2", "F"), (1, "M"), (2.0, "F"), (" 男 ", "M"),
    ("Ｍ", "M"), ("男孩", "M"), ("女童", "F"), ("未知", None), ("不详", None), ("", None),
    (None, None), ("x7", None), ("0", None), ("男（疑似）", "M"), ("疑似女性", "F"),
]


@pytest.mark.parametrize("text, expected", SEX_CASES)
def test_parse_sex(text, expected):
    assert parse_sex(text) == expected


def test_parse_sexes_vectorized():
    series = pd.Series(["男", "女", None, "F"], index=[3, 1, 2, 0])
    assert parse_sexes(series).to_dict() == {3: "M", 1: "F", 2: None, 0: "F"}


@pytest.mark.parametrize("text, unknown", [("未知", True), ("不详", True), ("-", True),
                                           (None, True), ("  ", True), ("很高", False),
                                           ("男", False)])
def test_is_unknown(text, unknown):
    assert is_unknown(text) is unknown


# GB/T 2261.1 sex codes: 0 未知的性别, 9 未说明的性别 are honest "unknown" markers in a sex
# column (and only there: 0 in a height column is garbage).
@pytest.mark.parametrize("value, field, unknown", [
    ("0", "sex", True), ("9", "sex", True), (0, "sex", True), (9.0, "sex", True), ("未说明", "sex", True),
    ("1", "sex", False), ("男", "sex", False), ("很高", "sex", False),
    ("0", None, False), ("9", "height", False), ("不详", "height", True),
])
def test_is_unknown_by_field(value, field, unknown):
    assert is_unknown(value, field=field) is unknown


# --- properties ----------------------------------------------------------------------------

# Text that looks like our inputs (digits, Chinese numerals, units, punctuation) plus anything.
quantity_text = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789０１２３.-/年月日号岁约多余左右后米厘cm尺一二三四五六七八九十〇零百半个 ()（）",
            max_size=14),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(quantity_text, st.builds(lambda digit, n, unit: digit * n + unit,
                                          st.sampled_from("19"), st.integers(300, 400),
                                          st.sampled_from(["", "多", "米", "后", "尺", "岁"]))))
def test_parsers_never_raise(text):
    date = parse_date(text)
    assert date.value is None or isinstance(date.value, pd.Timestamp)
    age = parse_age(text, ref_date=REF)
    assert age is None or 0 <= age.low <= age.high
    height = parse_height(text)
    assert height is None or (height.cm >= 0 and height.tol_cm >= 1)
    assert parse_sex(text) in ("M", "F", None)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), quantity_text, st.sampled_from(
    [c[0] for c in AGE_CASES + HEIGHT_CASES[:10] + DATE_CASES[:10] if isinstance(c[0], str)])),
    max_size=25))
def test_vectorized_equals_scalar_and_input_untouched(values):
    series = pd.Series(values, dtype=object)
    before = series.copy()
    dates, ages = parse_dates(series), parse_ages(series, ref_dates=REF)
    heights, sexes = parse_heights(series), parse_sexes(series)
    pd.testing.assert_series_equal(series, before)
    for i, value in enumerate(values):
        date, age, height = parse_date(value), parse_age(value, REF), parse_height(value)
        assert (None if pd.isna(dates["value"].iat[i]) else dates["value"].iat[i]) == date.value
        assert dates["precision"].iat[i] == date.precision
        if age is None:
            assert np.isnan(ages["low"].iat[i])
        else:
            assert (ages["low"].iat[i], ages["high"].iat[i], ages["kind"].iat[i]) == age[:3]
        if height is None:
            assert np.isnan(heights["cm"].iat[i])
        else:
            assert (heights["cm"].iat[i], heights["tol_cm"].iat[i]) == height
        assert sexes.iat[i] == parse_sex(value)


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
       st.sampled_from(["{:%Y-%m-%d}", "{:%Y/%m/%d}", "{:%Y%m%d}", "{0.year}年{0.month}月{0.day}日"]))
def test_date_roundtrip_and_idempotent(day, pattern):
    parsed = parse_date(pattern.format(day))
    assert parsed == (TS(day), "day")
    assert parse_date(parsed.value) == parsed  # parsing a parsed value changes nothing
    assert parse_date(f"{parsed.value:%Y-%m-%d}") == parsed


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=45, max_value=230), st.sampled_from(["{}cm", "{}厘米", "{}"]))
def test_height_roundtrip(cm, pattern):
    assert parse_height(pattern.format(cm)) == Height(float(cm), 1.0)
    assert parse_height(f"{cm / 100:.2f}米") == Height(float(cm), 1.0)


@given(st.sampled_from([c[0] for c in SEX_CASES]))
def test_sex_idempotent(text):
    code = parse_sex(text)
    assert parse_sex(code) == code


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=100), st.sampled_from(["{}", "{}岁", "约{}岁", "{}岁左右"]))
def test_age_interval_contains_the_stated_age(age, pattern):
    parsed = parse_age(pattern.format(age))
    assert isinstance(parsed, AgeRange)
    assert parsed.low <= age <= parsed.high
