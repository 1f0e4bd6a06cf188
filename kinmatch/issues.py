"""The issues table: every problem found in messy intake, one row each.

Intake and normalizers never stop at the first bad row and never coerce silently. They
collect problems here and return them as a DataFrame next to the data::

    >>> log = IssueLog()
    >>> log.add(row=17, record_id="R017", column="found_date", value="2023年13月",
    ...         reason="bad_date", message="'2023年13月' is not a date; fix the month or leave it blank")
    >>> log.to_frame()[["row", "reason"]].values.tolist()
    [[17, 'bad_date']]

``row`` is the 1-based line of the data row in the source file (the header is row 1, so the first
data row of a CSV is row 2); for a DataFrame input it is the positional index + 2 as well, so the
numbers always match what a spreadsheet shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

ISSUE_COLUMNS = ["row", "record_id", "column", "value", "reason", "action", "message"]
"""Columns of every issues table. ``action`` says what happened to the data: ``kept_blank``
(value dropped, row kept), ``kept`` (value kept, flagged), ``row_skipped`` (blank row),
``row_kept`` (row kept, e.g. a duplicate id), ``error`` (the whole input is unusable)."""


@dataclass
class IssueLog:
    """Collects issues; cheap to append to, turned into a DataFrame once at the end."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        *,
        row: int | None,
        column: str | None,
        value: Any,
        reason: str,
        message: str,
        record_id: Any = None,
        action: str = "kept_blank",
    ) -> None:
        self.rows.append(
            {
                "row": row,
                "record_id": record_id,
                "column": column,
                "value": None if value is None else str(value),
                "reason": reason,
                "action": action,
                "message": message,
            }
        )

    def extend(self, other: "IssueLog | pd.DataFrame") -> None:
        if isinstance(other, IssueLog):
            self.rows.extend(other.rows)
        else:
            self.rows.extend(other.to_dict("records"))

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=ISSUE_COLUMNS)
        return frame.astype({"row": "Int64"})


def empty_issues() -> pd.DataFrame:
    """An issues table with no rows and the standard columns."""
    return IssueLog().to_frame()


def concat_issues(*tables: pd.DataFrame) -> pd.DataFrame:
    """Stack issues tables, keeping the standard columns and order."""
    tables = [t for t in tables if t is not None and len(t)]
    if not tables:
        return empty_issues()
    return pd.concat(tables, ignore_index=True)[ISSUE_COLUMNS].astype({"row": "Int64"})
