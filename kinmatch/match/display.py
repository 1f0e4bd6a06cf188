"""Notebook rendering of candidates: a ranked list, and one resident beside its candidates.

    >>> from kinmatch.match.display import show_candidates, CandidateList   # doctest: +SKIP
    >>> CandidateList(candidates)               # in Jupyter: the ranked table, probability bars  # doctest: +SKIP
    >>> show_candidates(candidates, residents, missing, "R0001")  # doctest: +SKIP

``show_candidates`` returns a pandas ``Styler``: one row per field (姓名, 性别, 年龄 …), the resident
in the first column and its top candidates next to it; a cell is green where that comparison
agrees and red where it conflicts, so a reviewer sees at a glance why a report ranks high. Pass
the normalized frames of a :class:`~kinmatch.match.rank.LinkRun` (``run.residents``,
``run.missing``) so nothing is normalized again.
"""

from __future__ import annotations

import html

import pandas as pd

from kinmatch.match import comparisons as cmp

# (row label, resident column, report column, comparison deciding its colour)
FIELDS = [
    ("姓名", "name", "name", "name"),
    ("别名/小名", "alias", "alias", "name"),
    ("性别", "sex", "sex", "sex"),
    ("年龄", "age", "age", "age"),
    ("出生日期", "birth_date", "birth_date", "age"),
    ("身高", "height", "height", "height"),
    ("日期", "found_date", "missing_date", "time_gap"),
    ("地点", "found_place", "missing_place", "geography"),
    ("口音/户籍", "accent", "hometown", "accent"),
    ("自述/户籍", "statements", "hometown", "statement_places"),
    ("体貌特征", "description", "description", "marks"),
    ("健康状况", "health", "health", "conditions"),
]

AGREE_FROM = {"name": 4, "sex": 1, "age": 2, "height": 2, "time_gap": 2, "geography": 3, "accent": 1,
              "statement_places": 2, "marks": 3, "conditions": 1, "build": 2, "hair": 1}
"""Level from which a comparison counts as agreeing (green); level 0 is a conflict (red)."""

GREEN, RED = "background-color: #d9f2d9", "background-color: #f8d0d0"


def _text(record: pd.Series, column: str) -> str:
    value = record.get(column) if column in record.index else None
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, tuple):
        return "、".join(map(str, value))
    return str(value)


def show_candidates(result: pd.DataFrame, residents: pd.DataFrame, missing: pd.DataFrame, resident_id: str,
                    top: int = 5):
    """Side-by-side Styler of one resident and its ``top`` candidates from the link ``result``.

    ``residents`` / ``missing`` may be canonical or normalized frames; colours need the normalized
    columns, so the normalizers run when they are absent."""
    from kinmatch.match.rank import _prepare

    residents = _prepare(residents, "resident")
    missing = _prepare(missing, "missing")
    resident_id = str(resident_id)
    rows = result[result["resident_id"].astype(str) == resident_id].sort_values("rank").head(top)
    resident = residents.set_index("resident_id").loc[resident_id]
    reports = missing.set_index("missing_id")
    columns = {f"受助人员 {resident_id}": [_text(resident, f[1]) for f in FIELDS]}
    colours = {f"受助人员 {resident_id}": ["" for _ in FIELDS]}
    for _, row in rows.iterrows():
        report = reports.loc[str(row["missing_id"])]
        levels = cmp.compare_one(resident, report)
        title = f"#{int(row['rank'])} {row['missing_id']} ({row['match_probability']:.0%})"
        columns[title] = [_text(report, f[2]) for f in FIELDS]
        colours[title] = [GREEN if levels.get(f[3], -1) >= AGREE_FROM[f[3]] else
                          RED if levels.get(f[3], -1) == 0 else "" for f in FIELDS]
    frame = pd.DataFrame(columns, index=[f[0] for f in FIELDS])
    styles = pd.DataFrame(colours, index=frame.index)
    styler = frame.style.apply(lambda _: styles, axis=None)
    if len(rows):
        captions = [f"#{int(r['rank'])} {html.escape(str(r['explanation']))}" for _, r in rows.iterrows()]
        styler = styler.set_caption("<br>".join(captions))
    return styler


class CandidateList:
    """A link result that renders as a readable HTML table in Jupyter (probability as a bar).

        >>> table = pd.DataFrame({"resident_id": ["R1"], "missing_id": ["M1"], "rank": [1],
        ...                       "match_probability": [0.93], "match_weight": [8.2],
        ...                       "explanation": ["姓名同音(李伟/李玮) +6.1"]})
        >>> "李玮" in CandidateList(table)._repr_html_()
        True
    """

    def __init__(self, table: pd.DataFrame, max_rows: int = 200):
        self.table = table
        self.max_rows = max_rows

    def __len__(self) -> int:
        return len(self.table)

    def _repr_html_(self) -> str:
        shown = self.table.head(self.max_rows)
        columns = [c for c in ("resident_id", "missing_id", "rank", "match_probability", "match_weight",
                               "explanation", "identification_potential") if c in shown.columns]
        styler = (shown[columns].style.hide(axis="index")
                  .format({"match_probability": "{:.1%}", "match_weight": "{:+.1f}"})
                  .bar(subset=["match_probability"], vmin=0, vmax=1, color="#9ecae1"))
        note = "" if len(self.table) <= self.max_rows else f"<p>{len(self.table)} rows, first {self.max_rows} shown</p>"
        return styler.to_html() + note

    def __repr__(self) -> str:
        return repr(self.table)


