"""Notices for a whole resident table: in memory (:func:`render_notices`) or to files
(:func:`write_notices`).

Bad records never stop the batch: a record that cannot be published (no station phone, too few
identifying fields, a privacy violation, a broken template) gets a ``skipped`` reason and an issue
row instead of a notice.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from kinmatch._io import atomic_write, write_bytes_atomic
from kinmatch.errors import InputError
from kinmatch.issues import IssueLog
from kinmatch.notices.context import load_station_info, notice_context, text_of
from kinmatch.notices.poster import FontNotFound
from kinmatch.notices.privacy import PrivacyError
from kinmatch.notices.rendering import (
    FORMATS,
    TEXT_BUDGET,
    NoticeSkipped,
    environment,
    public_text,
    render_context,
)

WITHHELD_MESSAGES = {
    "long_number": "it may hold a phone, ID or other number of 7 or more digits",
    "diagnosis": "it may name a diagnosis (health data; the notice shows plain words only)",
    "contact": "it introduces a contact (电话, 微信, 身份证 …)",
    "street_address": "it may give a street-level address, and the person may be a minor",
    "photo_path": "the photo's file name may hold a number, a diagnosis or an address",
    "photo_outside_folder": "the photo path is absolute or leaves the --photos folder; only "
                            "photos inside --photos are embedded",
    "photo_unreadable": "the photo file is not a readable image; replace it (JPEG or PNG)",
}
"""What each withheld-part and photo reason code means (the value itself is never quoted)."""

NOTICE_COLUMNS = ["resident_id", "format", "text", "skipped"]
"""Columns of :func:`render_notices`: ``text`` is str (bytes for pdf) or None when skipped."""


def _formats(formats: str | Iterable[str]) -> list[str]:
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InputError(f"unknown notice format(s) {unknown or formats!r}; choose from "
                         f"{', '.join(FORMATS)} (comma-separated)")
    return formats


def render_notices(residents: pd.DataFrame, formats: str | Iterable[str] = ("txt",), *,
                   station_info: Any = None, template_dir: str | Path | None = None,
                   max_chars: int = TEXT_BUDGET, today: dt.date | None = None,
                   photo_dir: str | Path | None = None, progress: bool = False,
                   issues: IssueLog | None = None) -> pd.DataFrame:
    """Render the notices of every resident; one row per (resident, format).

    Returns a DataFrame with columns ``resident_id, format, text, skipped``: ``text`` holds the
    notice (bytes for ``pdf``), ``skipped`` a reason code when there is no notice
    (``too_empty``, ``no_station_phone``, ``privacy``, ``template_error``, ``over_budget``,
    ``missing_glyphs``: a pdf poster whose font cannot draw a character of it, ``render_error``).
    Reunited residents get a withdrawn notice. Pass an :class:`~kinmatch.issues.IssueLog` to
    collect one issue row per skipped notice, per part of free text the privacy filter left out
    (``notice_withheld_<reason>``, see :data:`WITHHELD_MESSAGES`) and per poster written without
    its photo; no row quotes the private value.

    >>> residents = pd.DataFrame([{"resident_id": "R1", "name": "李伟", "name_source": "自报",
    ...     "sex": "男", "age": "约60岁", "height": "170cm", "station": "某市救助站",
    ...     "contact": "0371-66661234"}, {"resident_id": "R2", "contact": "0371-66661234"}])
    >>> out = render_notices(residents, formats="txt,md")
    >>> out[["resident_id", "format", "skipped"]].values.tolist()
    [['R1', 'txt', None], ['R1', 'md', None], ['R2', 'txt', 'too_empty'], ['R2', 'md', 'too_empty']]
    """
    if "resident_id" not in residents.columns:
        raise InputError("the resident table has no resident_id column; read it with "
                         "kinmatch.read_residents or name the id column 'resident_id'")
    formats = _formats(formats)
    info = load_station_info(station_info)
    env = environment(template_dir)
    rows = []
    records = residents.to_dict("records")
    iterator: Iterable = records
    if progress:
        from tqdm import tqdm

        iterator = tqdm(records, desc="notices", unit="resident")
    contexts = []
    for record in records:
        try:
            contexts.append((notice_context(record, info, today=today), None))
        except Exception as error:  # a record the parsers choke on must not stop the batch
            # The error's text may quote the record: name only its kind.
            contexts.append((None, ("bad_record", "could not read the record "
                                                  f"({type(error).__name__})")))
    font_path = _batch_font(contexts, env, formats)
    for position, record in enumerate(iterator):
        resident_id = text_of(record.get("resident_id"))
        source_row = record.get("source_row")
        row_number = int(source_row) if text_of(source_row).isdigit() else position + 2
        context, early = contexts[position]
        if context is not None and issues is not None:
            for part in context.get("withheld", ()):
                issues.add(row=row_number, record_id=resident_id, column=part["field"], value=None,
                           reason=f"notice_withheld_{part['reason']}", action="kept_blank",
                           message=f"part of {part['field']} was left out of the public notice: "
                                   f"{WITHHELD_MESSAGES.get(part['reason'], part['reason'])}")
        for fmt in formats:
            text, reason, message = None, None, None
            problems: list[str] = []
            if context is None:
                reason, message = early
            else:
                try:
                    text = render_context(context, fmt, env=env, max_chars=max_chars,
                                          photo_dir=photo_dir, font_path=font_path,
                                          problems=problems)
                except NoticeSkipped as error:
                    reason, message = error.reason, str(error)
                except PrivacyError as error:
                    reason, message = "privacy", str(error)
                except InputError as error:
                    reason, message = "template_error", str(error)
                except FontNotFound:
                    raise  # no font at all: every poster would fail, say so once
                except Exception as error:  # one broken record or photo must not cost the batch
                    reason, message = "render_error", f"could not be drawn ({type(error).__name__})"
            if issues is not None:
                for problem in dict.fromkeys(problems):
                    issues.add(row=row_number, record_id=resident_id, column="photo", value=fmt,
                               reason=f"notice_{problem}", action="kept_blank",
                               message=f"{fmt} notice written without its photo: "
                                       f"{WITHHELD_MESSAGES[problem]}")
            rows.append({"resident_id": resident_id, "format": fmt, "text": text, "skipped": reason})
            if reason and issues is not None:
                issues.add(row=row_number, record_id=resident_id, column=None, value=fmt,
                           reason=f"notice_{reason}", action="kept",
                           message=f"{fmt} notice not written: {message}")
    return pd.DataFrame(rows, columns=NOTICE_COLUMNS)


_SUBSET_FROM = 4
"""Batches with at least this many posters load a subset of the CJK font once (much faster)."""


def _batch_font(contexts, env, formats) -> str | None:
    """A font subset to the characters of every poster of the batch, or None (use the full font)."""
    if "pdf" not in formats or len(contexts) < _SUBSET_FROM:
        return None
    chars: set[str] = set()
    for context, _early in contexts:
        if context is None:
            continue
        try:
            chars.update(public_text(context, "pdf", env=env))
        except (NoticeSkipped, PrivacyError, InputError):
            continue
    if not chars:
        return None
    from kinmatch.notices.poster import subset_font

    try:
        return subset_font(chars)
    except FontNotFound:
        raise  # no font at all: every poster would fail, say so once
    except Exception as error:  # subsetting is an optimisation: fall back to the full font
        warnings.warn(f"could not subset the CJK font ({error}); posters use the full font "
                      "(slower, same result)", RuntimeWarning, stacklevel=3)
        return None


def _file_stem(resident_id: str) -> str:
    # ids become file names: keep letters, digits, CJK, - and _ only.
    stem = re.sub(r"[^\w\-]+", "_", resident_id, flags=re.UNICODE).strip("_")
    return stem or "resident"


def skipped_report_path(out_dir: str | Path) -> Path:
    """Where the report of skipped notices and withheld parts goes: ``<out_dir>-skipped.csv``
    beside the notice folder, never inside it (the folder is what gets published).

    >>> skipped_report_path("/srv/out/notices").as_posix()
    '/srv/out/notices-skipped.csv'
    """
    folder = Path(out_dir).absolute()
    return folder.parent / f"{folder.name or 'notices'}-skipped.csv"


def write_notices(residents: pd.DataFrame, out_dir: str | Path,
                  formats: str | Iterable[str] = ("txt",), **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Render and write one file per notice into ``out_dir`` (``<resident_id>.<format>``).

    Each file is written atomically. Returns ``(notices, issues)``: the
    :func:`render_notices` table plus a ``path`` column, and the issues table of skipped notices.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output {str(out_dir)!r} is a file, not a folder: notices are written "
                         "one file each into a folder; give a new or existing folder with -o")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the output folder {str(out_dir)!r} ({error}); it is not "
                         "a folder kinmatch can write into: give another path with -o") from error
    log = IssueLog()
    notices = render_notices(residents, formats, issues=log, **kwargs)
    paths = []
    seen: dict[str, int] = {}
    for row in notices.itertuples(index=False):
        if row.text is None:
            paths.append(None)
            continue
        stem = _file_stem(row.resident_id)
        key = f"{stem}.{row.format}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # duplicate ids must not overwrite each other's notices
            stem = f"{stem}_{seen[key]}"
        path = out_dir / f"{stem}.{row.format}"
        if isinstance(row.text, bytes):
            write_bytes_atomic(row.text, path)
        else:
            with atomic_write(path) as handle:
                handle.write(row.text)
        paths.append(str(path))
    notices = notices.assign(path=paths)
    return notices, log.to_frame()
