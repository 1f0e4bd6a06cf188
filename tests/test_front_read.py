"""The batch link's front read faster with the same results: UTF-8 failures counted in pieces, CSV
cells cleaned per distinct value without a call each, plain day dates, names read ahead."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch import _tableread
from kinmatch.normalize import names, phonetics, quantities

_PIECES = [p.encode(enc, errors="ignore") for p in ("张三", "李四,北京", "é", "\ufffd", "abc")
           for enc in ("utf-8", "gb18030")] + [b"\n", b"\r\n", b"\xff", b"\xe5\x8c", b"\x80"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=40), st.integers(1, 12))
def test_utf8_failures_counted_in_pieces_as_the_whole(parts, chunk):
    data = b"".join(parts)
    non_ascii = len(data) - len(data.translate(None, bytes(range(0x80, 0x100))))
    if not non_ascii:
        return
    whole = data.decode("utf-8", errors="replace").count("\ufffd") / non_ascii < 0.02
    old_chunk = _tableread._COUNT_CHUNK
    _tableread._COUNT_CHUNK = chunk
    try:
        assert _tableread._few_utf8_failures(data, non_ascii) == whole
    finally:
        _tableread._COUNT_CHUNK = old_chunk


def test_a_gbk_file_is_still_read_as_gb18030():
    text = "编号,姓名,走失地点\n" + "".join(f"M{i},张{i}三,四川省成都市\n" for i in range(3000))
    assert _tableread.decode_bytes(text.encode("gb18030"))[1] == "gb18030"
    damaged = bytearray(text.encode("utf-8"))
    damaged[40] = 0xFF  # one bad byte in a UTF-8 file: still UTF-8, with the byte replaced
    decoded, encoding, bad, _ = _tableread.decode_bytes(bytes(damaged))
    assert encoding == "utf-8" and bad and "\ufffd" in decoded


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=[" ", "=", '"', "'", "a", "张", "\t", "-", "@", "\u3000", "\n"],
                        max_size=6), min_size=1, max_size=30))
def test_cells_cleaned_as_one_call_each(values):
    column = np.array(values, dtype=object)
    for clean, func in ((True, _tableread._clean_csv_cell), (False, _tableread._csv_cell)):
        assert _tableread._cells_of(column, clean).tolist() == _tableread.map_unique(column, func).tolist()


_FULL_PARSE = quantities._parse_date_text.__wrapped__


def _without_plain_day(text):
    plain = quantities._PLAIN_DAY
    quantities._PLAIN_DAY = re.compile(r"(?!)")  # matches nothing: the full parse
    try:
        return _FULL_PARSE(text)
    finally:
        quantities._PLAIN_DAY = plain


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["2023", "1899", "1677", "1678", "2261", "2262", "0000", "１９９９", "二〇二三", "202"]),
       st.sampled_from(["-", "/", ".", "年", "月", "日", " ", "", "号"]),
       st.sampled_from(["1", "01", "12", "13", "0", "00", "002", "十一", "2"]),
       st.sampled_from(["-", "/", ".", "年", "月", "日", " ", ""]),
       st.sampled_from(["1", "01", "29", "30", "31", "32", "0", ""]),
       st.sampled_from(["", "日", "号", "日 ", " ", "日下午", "日14:30"]))
def test_plain_day_dates_read_as_the_full_parse(year, sep1, month, sep2, day, tail):
    text = year + sep1 + month + sep2 + day + tail
    assert _FULL_PARSE(text) == _without_plain_day(text)
    compact = year + month.zfill(2)[-2:] + day.zfill(2)[-2:]
    assert _FULL_PARSE(compact) == _without_plain_day(compact)


def test_plain_day_dates_are_taken_by_the_short_way():
    assert quantities._PLAIN_DAY.fullmatch("2013-07-13") and quantities._PLAIN_DAY.fullmatch("1977年2月26日")
    assert quantities._PLAIN_DAY.fullmatch("20130713") and not quantities._PLAIN_DAY.fullmatch("2013-07")
    assert _FULL_PARSE("2023-02-30") == quantities.ParsedDate(None, None)
    assert _FULL_PARSE("2023年2月8日") == quantities.ParsedDate(pd.Timestamp("2023-02-08"), "day")


def _clear_name_caches():
    for cached in (names._parse_cached, names._readings_of_clean, names._name_row, phonetics._name_keys,
                   phonetics._profile_variants, phonetics._units):
        cached.cache_clear()


def test_names_read_ahead_give_the_same_columns():
    frame = pd.DataFrame({
        "name": ["胡春花", "吴春花", "无名氏", None, "欧阳小明", "阿卜杜·热合曼", "老王", "Zhang Wei", "党明"],
        "source": [None, "自报", None, None, "家属", None, None, None, "站内代名"],
        "area": ["Wu", None, "Yue", None, "Yue", None, "JH_Man", None, None]})
    _clear_name_caches()
    plain = names.name_columns(frame["name"], name_source=frame["source"], area=frame["area"])
    _clear_name_caches()
    names.read_ahead(frame["name"], name_source=frame["source"])
    assert names._readings_of_clean.cache_info().currsize > 0 and names._name_row.cache_info().currsize == 0
    ahead = names.name_columns(frame["name"], name_source=frame["source"], area=frame["area"])
    pd.testing.assert_frame_equal(ahead, plain)


def _parsed(parser, argv, capsys):
    try:
        result = vars(parser.parse_args(argv))
        code = None
    except SystemExit as stop:
        result, code = None, stop.code
    out = capsys.readouterr()
    if result is not None:
        result.pop("func", None)
    return result, code, out.out, out.err


def test_a_command_parsed_by_its_own_parser_as_by_the_full_one(capsys):
    from kinmatch import cli

    assert cli._command_named(["link", "a.csv"]) == "link"
    assert cli._command_named(["lnk", "a.csv"]) is None and cli._command_named(["--version"]) is None
    assert cli._command_named([]) is None and cli._command_named(["__init__"]) is None
    for argv in (["link", "r.csv", "m.csv", "-o", "c.csv", "--top-k", "50", "--jobs", "1"], ["link", "--help"],
                 ["link", "r.csv"], ["link", "r.csv", "m.csv", "--bogus"], ["index", "--help"]):
        assert _parsed(cli.build_parser(cli._command_named(argv)), argv, capsys) == _parsed(cli.build_parser(), argv,
                                                                                          capsys)


def test_a_texts_marks_merged_alone_are_themselves():
    from kinmatch.datasets import simulate
    from kinmatch.normalize import descriptions

    sim = simulate(n_missing=3000, n_residents=300, seed=5)
    texts = {t for frame in (sim.missing, sim.residents) for column in ("description", "health")
             if column in frame.columns for t in frame[column].dropna()}
    texts |= {"走路跛，左腿不便", "左脸有痣，右脸有痣，脸上有痣", "有一颗痣，位于左脸", "右胳膊刺青，图案为龙",
              "左手缺小指，手指残缺"}
    with_marks = 0
    for text in texts:
        marks = descriptions.parse_description(text).mark_strings
        with_marks += bool(marks)
        assert descriptions.merge_marks(marks) == marks
        assert descriptions.merge_marks(marks, ()) == marks == descriptions.merge_marks((), marks)
    assert with_marks > 100


def test_meanwhile_runs_once_on_every_path_and_changes_nothing():
    from kinmatch.normalize import records

    keys = pd.DataFrame({"name": [f"张{chr(0x4e00 + i)}" for i in range(40)] * 2, "source": None, "area": "Wu",
                         "side": "report"})
    plain = records._by_distinct(keys, records._names_of, 1)
    for n_jobs, split_min in ((1, None), (2, 10), (2, None)):
        calls = []
        got = records._by_distinct(keys, records._names_of, n_jobs, split_min=split_min,
                                   meanwhile=lambda calls=calls: calls.append(1))
        pd.testing.assert_frame_equal(got, plain)
        assert calls == [1]
