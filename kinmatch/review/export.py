"""Reviewed results out of the store: a CSV of decisions and the frame for match-lead letters.

    >>> from kinmatch.review import Store, export_decisions, export_leads     # doctest: +SKIP
    >>> store = Store("cases.db")                                             # doctest: +SKIP
    >>> from kinmatch._io import write_csv                                    # doctest: +SKIP
    >>> write_csv(export_decisions(store), "reviewed.csv")  # formulas escaped # doctest: +SKIP
    >>> from kinmatch.notices import render_letter                            # doctest: +SKIP
    >>> leads = export_leads(store)[LETTER_ARGUMENTS].to_dict("records")          # doctest: +SKIP
    >>> letters = [render_letter(**lead) for lead in leads]                       # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from kinmatch.review import schema as s
from kinmatch.review.store import DECISION_LABELS, Store

__all__ = ["EXPORT_COLUMNS", "LEAD_COLUMNS", "LETTER_ARGUMENTS", "export_decisions", "export_leads", "render_leads"]

EXPORT_COLUMNS = ["resident_id", "missing_id", "resident_name", "report_name", "decision", "decision_label",
                  "reason", "note", "reviewer", "decided_at", "match_probability", "match_weight",
                  "explanation", "run_id", "n_decisions"]

LETTER_ARGUMENTS = ["resident", "report", "explanation", "match_probability", "reviewer"]
"""Columns of :func:`export_leads` that are, by name, the arguments of
:func:`kinmatch.notices.render_letter`."""

LEAD_COLUMNS = ["resident_id", "missing_id", *LETTER_ARGUMENTS, "decided_at"]


def export_decisions(store: Store, which: str | None = "same") -> pd.DataFrame:
    """One row per pair whose **current** decision is ``which`` (``same`` by default; ``None``
    for every decided pair), with both names, the score and explanation it was reviewed with,
    and how many decisions the pair's audit trail holds. Sorted by decision time."""
    current = store.current_decisions()
    if which is not None:
        current = current[current["decision"] == which]
    history = store.history()
    n_decisions = history.groupby(["resident_id", "missing_id"]).size().rename("n_decisions")
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(s.candidates.c.resident_id, s.candidates.c.missing_id, s.candidates.c.match_probability,
                   s.candidates.c.match_weight, s.candidates.c.explanation, s.candidates.c.run_id,
                   s.residents.c.name.label("resident_name"), s.reports.c.name.label("report_name"))
            .join(s.residents, s.residents.c.resident_id == s.candidates.c.resident_id)
            .join(s.reports, s.reports.c.missing_id == s.candidates.c.missing_id)).mappings().all()
    scores = pd.DataFrame([dict(r) for r in rows],
                          columns=["resident_id", "missing_id", "match_probability", "match_weight", "explanation",
                                   "run_id", "resident_name", "report_name"])
    out = current.drop(columns=["id"]).merge(scores, on=["resident_id", "missing_id"], how="left")
    # the score and reasons the reviewer saw when deciding (decisions recorded before the store
    # kept them fall back to the pair's current score)
    for seen, column in (("seen_probability", "match_probability"), ("seen_weight", "match_weight"),
                         ("seen_explanation", "explanation"), ("seen_run_id", "run_id")):
        if seen in out.columns:
            out[column] = out[seen].where(out[seen].notna(), out[column])
    out = out.merge(n_decisions.reset_index(), on=["resident_id", "missing_id"], how="left")
    out["decision_label"] = out["decision"].map(DECISION_LABELS)
    out["n_decisions"] = out["n_decisions"].fillna(0).astype(int)
    return out.sort_values("decided_at", kind="mergesort").reset_index(drop=True)[EXPORT_COLUMNS]


def export_leads(store: Store) -> pd.DataFrame:
    """Pairs confirmed "same person" (送DNA核验), one row per match-lead letter.

    Columns: ``resident_id``, ``missing_id``, ``resident`` and ``report`` (the stored records as
    dicts), ``explanation``, ``match_probability``, ``reviewer``, ``decided_at``. The
    :data:`LETTER_ARGUMENTS` columns are named as :func:`kinmatch.notices.render_letter`'s
    arguments, so ``render_letter(**row[LETTER_ARGUMENTS])`` writes a row's letter (see
    :func:`render_leads`).
    """
    confirmed = export_decisions(store, which="same")
    residents = {r: store.resident(r) or {"resident_id": r} for r in confirmed["resident_id"].unique()}
    reports = {m: store.report(m) or {"missing_id": m} for m in confirmed["missing_id"].unique()}
    leads = pd.DataFrame({
        "resident_id": confirmed["resident_id"],
        "missing_id": confirmed["missing_id"],
        "resident": [residents[r] for r in confirmed["resident_id"]],
        "report": [reports[m] for m in confirmed["missing_id"]],
        "explanation": confirmed["explanation"].fillna(""),
        "match_probability": confirmed["match_probability"],
        "reviewer": confirmed["reviewer"],
        "decided_at": confirmed["decided_at"],
    }, columns=LEAD_COLUMNS)
    return leads.reset_index(drop=True)


def render_leads(store: Store, fmt: str = "md", **letter_options: Any) -> dict[tuple[str, str], str]:
    """The match-lead letter of every confirmed pair, keyed by ``(resident_id, missing_id)``.

    ``letter_options`` go to :func:`kinmatch.notices.render_letter` (``police_unit``,
    ``station_info``, ``include_family_contact``...)."""
    from kinmatch.notices import render_letter

    letters = {}
    for lead in export_leads(store).to_dict("records"):
        arguments = {key: lead[key] for key in LETTER_ARGUMENTS}
        letters[(lead["resident_id"], lead["missing_id"])] = render_letter(fmt=fmt, **arguments, **letter_options)
    return letters
