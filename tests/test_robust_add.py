"""An ``index add`` updates the stored report side by the added and replaced reports (issue 13: a
daily add of a few hundred reports should not redo the whole index): the side it writes equals the
side computed from every report, field for field, and linking through it is unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kinmatch
from kinmatch.index import Index
from kinmatch.index import core as index_core
from kinmatch.index.side import ReportSide
from kinmatch.match.candidates import report_side_state
from kinmatch.match.settings import resolve_settings


@pytest.fixture(scope="module")
def reports():
    sim = kinmatch.datasets.simulate(n_missing=900, n_residents=60, seed=31)
    return sim


def _stored_side(directory) -> ReportSide:
    index = Index.open(directory)
    return index.report_side()


def _items(table) -> list:
    return [(key, table[key]) for key in table]  # a stored table's .keys is its key array


def _assert_same_side(got: ReportSide, expected: ReportSide) -> None:
    assert got.fingerprint == expected.fingerprint
    assert list(got.rarity) == list(expected.rarity)
    for name in expected.rarity:
        assert _items(got.rarity[name]) == _items(expected.rarity[name]), name
    for name in expected.counts:
        for field in ("keys", "counts"):
            np.testing.assert_array_equal(np.asarray(got.counts[name][field]).astype(str),
                                          np.asarray(expected.counts[name][field]).astype(str))
        assert got.counts[name]["total"] == expected.counts[name]["total"]
    assert got.rows.equals(expected.rows)
    np.testing.assert_array_equal(got.order, expected.order)
    _assert_same_value(report_side_state(got.reports), report_side_state(expected.reports), "reports")


def _assert_same_value(got, expected, where: str) -> None:
    """Equal values of the passes' side state: arrays (text compared as text), indexes, frames, dicts."""
    if isinstance(expected, dict):
        assert set(got) == set(expected), where
        for key, value in expected.items():
            _assert_same_value(got[key], value, f"{where}.{key}")
    elif isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, check_exact=True, check_index_type=False, obj=where)
    elif isinstance(expected, pd.Index):
        assert list(got) == list(expected), where
    elif isinstance(expected, np.ndarray):
        if expected.dtype == object or expected.dtype.kind == "U":
            np.testing.assert_array_equal(np.asarray(got).astype(str), expected.astype(str), err_msg=where)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=where)
    else:
        assert got == expected, where


def test_an_add_updates_the_report_side_to_the_one_computed_from_every_report(reports, tmp_path, monkeypatch):
    missing = reports.missing
    first, second, third = missing.iloc[:500], missing.iloc[500:700].copy(), missing.iloc[700:].copy()
    # the second day also edits 30 reports of the first (a new height, other marks): replaced
    edited = missing.iloc[100:130].copy()
    edited["身高"] = "150厘米" if "身高" in edited.columns else None
    second = pd.concat([second, edited])
    directory = tmp_path / "index"
    Index.build(directory, missing=[first.drop(columns="source_row")])
    computed = []
    original = ReportSide.compute.__func__

    def counted(cls, frame, settings):
        computed.append(len(frame))
        return original(cls, frame, settings)

    monkeypatch.setattr(ReportSide, "compute", classmethod(counted))
    settings = resolve_settings(None)
    for day in (second, third):
        issues = Index.add(directory, missing=[day.drop(columns="source_row")])
        assert computed == []  # updated, not computed from every report
        side = _stored_side(directory)
        with Index.open(directory) as index:
            every = index.missing
        _assert_same_side(side, original(ReportSide, every, settings))
    assert (issues["reason"] == "index_replaced").sum() == 0
    with Index.open(directory) as index:
        assert index.info()["counts"]["missing"] == len(missing)


def test_an_index_grown_by_adds_links_as_one_built_at_once(reports, tmp_path):
    missing, residents = reports.missing.drop(columns="source_row"), reports.residents.drop(columns="source_row")
    daily = tmp_path / "daily"
    Index.build(daily, missing=[missing.iloc[:300]], residents=[residents.iloc[:30]])
    model = Index.open(daily).model
    for start in range(300, len(missing), 150):
        Index.add(daily, missing=[missing.iloc[start:start + 150]])
    Index.add(daily, missing=[missing.iloc[40:60].assign(身高="180厘米")])  # edited reports replace
    at_once = tmp_path / "at_once"
    edited = pd.concat([missing.drop(index=missing.index[40:60]), missing.iloc[40:60].assign(身高="180厘米")])
    Index.build(at_once, missing=[edited], model=model)
    _assert_same_side(_stored_side(daily), _stored_side(at_once))
    pd.testing.assert_frame_equal(Index.open(daily).link(residents.iloc[30:]),
                                  Index.open(at_once).link(residents.iloc[30:]), check_exact=True)


def test_a_side_stored_without_counts_is_computed_again(reports, tmp_path, monkeypatch):
    missing = reports.missing.drop(columns="source_row")
    directory = tmp_path / "index"
    Index.build(directory, missing=[missing.iloc[:400]])
    side = _stored_side(directory)
    side.counts = None  # as an index written before the counts were kept
    arrays, rows = tmp_path / "old.arrays", tmp_path / "old.arrow"
    side.save(arrays, rows)
    manifest_side = Index.open(directory).manifest["report_side"]
    (directory / manifest_side["arrays"]).write_bytes(arrays.read_bytes())
    assert ReportSide.load(open(directory / manifest_side["arrays"], "rb"),
                           index_core.map_rows(directory / manifest_side["rows"])).counts is None
    Index.add(directory, missing=[missing.iloc[400:]])
    with Index.open(directory) as index:
        _assert_same_side(index.report_side(), ReportSide.compute(index.missing, resolve_settings(None)))


def test_the_passes_side_reads_only_the_pass_columns(reports):
    # an add reads only PASS_COLUMNS of every indexed report: the passes' side of those columns
    # must be the whole frame's (a pass reading another column makes this fail)
    from kinmatch.index.side import PASS_COLUMNS
    from kinmatch.match.candidates import report_side
    from kinmatch.match.pipeline import prepare_records

    missing = prepare_records(reports.missing, "missing")
    settings = resolve_settings(None).candidate_settings()
    whole = ReportSide(report_side(missing, settings), {}, None, np.empty(0), "")
    pruned = ReportSide(report_side(missing[list(PASS_COLUMNS)], settings), {}, None, np.empty(0), "")
    whole.counts = pruned.counts = {}
    whole.rows = pruned.rows = _EmptyRows()
    _assert_same_side(pruned, whole)


class _EmptyRows:
    def equals(self, other):
        return isinstance(other, _EmptyRows)
