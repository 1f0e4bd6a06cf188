"""Notebook rendering of candidates: a ranked list, and one resident beside its candidates.

    >>> from kinmatch.match.display import show_candidates, CandidateList   # doctest: +SKIP
    >>> CandidateList(candidates)               # in Jupyter: the ranked table, probability bars  # doctest: +SKIP
    >>> show_candidates(candidates, residents, missing, "R0001")  # doctest: +SKIP

``show_candidates`` returns a pandas ``Styler``: one row per field (姓名, 性别, 年龄 …), the resident
in the first column and its top candidates next to it; a cell is green where that comparison
agrees and red where it conflicts, so a reviewer sees at a glance why a report ranks high. Pass
the normalized frames of a :class:`~kinmatch.match.pipeline.LinkRun` (``run.residents``,
``run.missing``) and its ``run.settings`` so nothing is normalized again and the colours come
from the comparisons that ranked the pairs (the rarity tables of marks and builds are those of all
the reports, as in the run).
"""

from __future__ import annotations

import html

import pandas as pd

from kinmatch.match.settings import LinkSettings, resolve_settings

GREEN, RED = "background-color: #d9f2d9", "background-color: #f8d0d0"


def field_rows(settings: LinkSettings | None = None) -> list[tuple[str, str | None, str | None, str]]:
    """The rows of a side-by-side view: (row title, resident column, report column, comparison
    that colours the row), from each comparison's ``fields``, in the comparisons' order.

        >>> field_rows()[0]
        ('姓名', 'name', 'name', 'name')
    """
    settings = resolve_settings(settings)
    return [(title, left, right, comparison.name)
            for comparison in settings.comparisons for title, left, right in comparison.fields]


def row_colour(comparison, level: int) -> str:
    """Green where the comparison agrees (from its ``agree_from`` level), red where an ordered
    comparison sits at level 0 (a conflict), none where there is no evidence."""
    if level >= comparison.agree_from:
        return GREEN
    if level == 0 and comparison.ordered:
        return RED
    return ""


def _text(record: pd.Series, column: str | None) -> str:
    value = record.get(column) if column is not None and column in record.index else None
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, tuple):
        return "、".join(map(str, value))
    return str(value)


def show_candidates(result: pd.DataFrame, residents: pd.DataFrame, missing: pd.DataFrame, resident_id: str,
                    top: int = 5, settings: LinkSettings | None = None):
    """Side-by-side Styler of one resident and its ``top`` candidates from the link ``result``.

    ``residents`` / ``missing`` may be canonical or normalized frames; colours need the normalized
    columns, so the normalizers run when they are absent. ``settings``: the run's settings
    (``run.settings`` of a :class:`~kinmatch.match.pipeline.LinkRun`; default: the defaults)."""
    from kinmatch.match import engine
    from kinmatch.match.pipeline import prepare_records

    settings = resolve_settings(settings)
    residents = prepare_records(residents, "resident")
    missing = prepare_records(missing, "missing")
    resident_id = str(resident_id)
    rows = result[result["resident_id"].astype(str) == resident_id].sort_values("rank").head(top)
    resident_frame = residents[residents["resident_id"] == resident_id]
    if resident_frame.empty:
        raise KeyError(f"resident {resident_id!r} is not in the residents frame")
    report_ids = rows["missing_id"].astype(str).tolist()
    reports = missing.set_index("missing_id").loc[report_ids].reset_index()
    levels = engine.compare_pairs(pd.DataFrame({"resident_id": [resident_id] * len(report_ids),
                                                "missing_id": report_ids}),
                                  resident_frame, missing, settings.comparisons)
    by_name = {c.name: c for c in settings.comparisons}
    fields = field_rows(settings)
    resident = resident_frame.iloc[0]
    columns = {f"受助人员 {resident_id}": [_text(resident, f[1]) for f in fields]}
    colours = {f"受助人员 {resident_id}": ["" for _ in fields]}
    for i, (_, row) in enumerate(rows.iterrows()):
        report = reports.iloc[i]
        pair_levels = levels.iloc[i]
        title = f"#{int(row['rank'])} {row['missing_id']} ({row['match_probability']:.0%})"
        columns[title] = [_text(report, f[2]) for f in fields]
        colours[title] = [row_colour(by_name[f[3]], int(pair_levels[f[3]])) for f in fields]
    frame = pd.DataFrame(columns, index=[f[0] for f in fields])
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


