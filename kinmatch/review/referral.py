"""Referral to the provincial family-search studio (转交省级工作室): a bundle out, a bundle in.

:func:`write_bundle` packs residents a station could not settle into one zip file:

==================  ===============================================================================
file                content
==================  ===============================================================================
``manifest.json``   format, bundle id, station, who and when, residents, and every other file's
                    SHA-256 and size
``受助人员.xlsx``    for people: sheets 受助人员, 候选比对, 已排除, 站内记录 (Chinese headers, text cells)
``pfif.xml``        the residents and their candidate reports as PFIF 1.4 (no family contact)
``records.json``    the same records, candidates and exclusions for the machine (what import reads)
``notes.json``      the station's decision history and case events of these residents
``photos/…``        the residents' photos found inside the photo folder (path as in the record)
==================  ===============================================================================

The bundle carries no family contact (a report's ``contact`` is dropped): the studio has the
reports from their source. Writing it appends a ``referred`` event to each resident's case.

:func:`import_bundle` loads a bundle into the studio's store: records, candidate pairs not yet
there, every exclusion (非同一人) as a decision by ``转交:<station>`` with the original reviewer and
time in its note, so nothing is reviewed twice, the station's comments as ``comment`` events,
and a ``referred`` event (``direction: received``) per resident. It refuses, before writing
anything, a bundle whose manifest or checksums do not match its files, a path that would leave
the target folder (zip-slip), links, and a bundle already imported.

    >>> from kinmatch.review import Store                                              # doctest: +SKIP
    >>> write_bundle(Store("studio.sqlite"), ["R1", "R7"], "转交.zip", recorded_by="clerk")  # doctest: +SKIP
    >>> import_bundle(Store("province.sqlite"), "转交.zip", recorded_by="studio")      # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from kinmatch.errors import InputError

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "BundleError", "Bundle", "write_bundle", "read_bundle",
           "import_bundle", "excel_text", "referral_reviewer", "safe_member_name"]

BUNDLE_FORMAT = "kinmatch-referral"
BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 2 * 1024 ** 3
"""Largest total unpacked size :func:`read_bundle` accepts (a zip bomb is refused, not unpacked)."""

_PHOTO_SPLIT = re.compile(r"[;；、\n]+")


class BundleError(InputError):
    """A referral bundle cannot be written or is not safe or whole enough to import."""


class Bundle(dict):
    """A checked bundle: ``manifest`` (dict) and ``files`` (name → bytes), as :func:`read_bundle` returns."""

    @property
    def manifest(self) -> dict:
        return self["manifest"]

    @property
    def files(self) -> dict[str, bytes]:
        return self["files"]

    def json(self, name: str) -> Any:
        return json.loads(self.files[name].decode("utf-8"))


def referral_reviewer(station: str) -> str:
    """The reviewer name exclusions carried by a bundle are recorded under: ``转交:<station>``."""
    return f"转交:{station}"


# ---------------------------------------------------------------- writing

def _iso(value: Any) -> Any:
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return pd.Timestamp(value).isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _rows(frame: pd.DataFrame) -> list[dict]:
    return [{k: _iso(v) for k, v in row.items()} for row in frame.to_dict("records")]


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_EXCEL_CELL_MAX = 32767


def excel_text(value: Any) -> str | None:
    """``value`` as text an Excel cell can hold: control characters (which openpyxl refuses)
    removed, cut at Excel's 32,767 characters; None for blanks.

    >>> excel_text("李伟\\x07"), excel_text(None), excel_text(170)
    ('李伟', None, '170')
    """
    value = _iso(value)
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    text = _ILLEGAL.sub("", str(value))
    return text[:_EXCEL_CELL_MAX]


def _sheet(workbook, title: str, headers: list[str], rows: Iterable[Iterable[Any]]) -> None:
    from openpyxl.styles import Font

    sheet = workbook.create_sheet(title)
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            text = excel_text(value)
            if text is None:
                continue
            cell = sheet.cell(row=r, column=c, value=text)
            # Every cell is text: a name or statement starting with "=" must never become a
            # formula, and an ID-like number must keep its digits (no 1.1E+17).
            cell.data_type = "s"
    sheet.freeze_panes = "A2"
    for c, header in enumerate(headers, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=c).column_letter].width = max(10, min(40, 2 * len(header) + 4))


def _header(kind: str, key: str) -> str:
    from kinmatch.schema import FIELDS

    return FIELDS[kind].get(key, (key,))[0]


def _workbook(residents: list[dict], reports: list[dict], candidates: list[dict], exclusions: list[dict],
              history: list[dict], events: list[dict]) -> bytes:
    from openpyxl import Workbook

    from kinmatch.review.schema import CASE_EVENTS
    from kinmatch.review.store import DECISION_LABELS

    workbook = Workbook()
    workbook.remove(workbook.active)
    keys = list(dict.fromkeys(k for record in residents for k in record))
    _sheet(workbook, "受助人员", [_header("resident", k) for k in keys],
           ([record.get(k) for k in keys] for record in residents))
    names = {r["missing_id"]: r.get("name") for r in reports}
    _sheet(workbook, "候选比对", ["受助人员编号", "寻人信息编号", "寻人姓名", "同一人概率", "比对说明", "当前结论"],
           ([c["resident_id"], c["missing_id"], names.get(c["missing_id"]),
             f"{c['match_probability']:.3f}", c.get("explanation"), DECISION_LABELS.get(c.get("decision"), "未审核")]
            for c in candidates))
    _sheet(workbook, "已排除", ["受助人员编号", "寻人信息编号", "排除理由", "备注", "审核人", "审核时间"],
           ([e["resident_id"], e["missing_id"], e.get("reason"), e.get("note"), e["reviewer"], e["decided_at"]]
            for e in exclusions))
    notes = [(h["decided_at"], h["resident_id"], h["missing_id"],
              "审核：" + DECISION_LABELS.get(h["decision"], h["decision"]),
              "；".join(x for x in (h.get("reason"), h.get("note")) if x), h["reviewer"]) for h in history]
    notes += [(e["event_date"], e["resident_id"], e.get("missing_id"), CASE_EVENTS.get(e["event"], e["event"]),
               e.get("detail"), e["recorded_by"]) for e in events]
    _sheet(workbook, "站内记录", ["时间", "受助人员编号", "寻人信息编号", "事项", "内容", "记录人"],
           sorted(notes, key=lambda n: str(n[0])))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _photos(residents: list[dict], photo_dir: str | os.PathLike | None) -> tuple[dict[str, bytes], list[dict]]:
    """``(zip name → bytes, skipped)`` of the residents' photos inside ``photo_dir``; each record's
    ``photo`` is rewritten to the paths relative to the folder."""
    files: dict[str, bytes] = {}
    skipped: list[dict] = []
    root = Path(photo_dir).resolve() if photo_dir is not None else None
    for record in residents:
        parts = [p.strip() for p in _PHOTO_SPLIT.split(str(record.get("photo") or "")) if p.strip()]
        kept = []
        for part in parts:
            if "://" in part:
                kept.append(part)  # a URL travels as text; nothing is fetched
                continue
            if root is None:
                skipped.append({"resident_id": record["resident_id"], "photo": part,
                                "reason": "没有给出照片目录 --photos"})
                kept.append(part)
                continue
            path = Path(part)
            path = (path if path.is_absolute() else root / path).resolve()
            if not path.is_relative_to(root):
                skipped.append({"resident_id": record["resident_id"], "photo": part, "reason": "不在照片目录内"})
                continue
            if not path.is_file():
                skipped.append({"resident_id": record["resident_id"], "photo": part, "reason": "文件不存在"})
                kept.append(part)
                continue
            relative = path.relative_to(root).as_posix()
            files[f"photos/{relative}"] = path.read_bytes()
            kept.append(relative)
        if parts:
            record["photo"] = "；".join(kept) if kept else None
    return files, skipped


def write_bundle(store, resident_ids: Iterable[str], path: str | os.PathLike, *, recorded_by: str,
                 station: str | None = None, photo_dir: str | os.PathLike | None = None,
                 now: dt.datetime | None = None) -> dict:
    """Write the referral bundle of ``resident_ids`` to ``path`` (a .zip); returns its manifest.

    ``station``: the referring station's name (default: the residents' ``station`` field when they
    share one). ``photo_dir``: the folder photos are taken from; photo paths outside it, or any
    when it is not given, are listed in the manifest's ``photos_skipped`` and not packed.
    Appends a ``referred`` event (detail: ``direction: sent``, ``bundle_id``) to each resident.
    """
    from kinmatch._io import atomic_write
    from kinmatch.pfif import export_pfif

    ids = list(dict.fromkeys(str(r) for r in resident_ids))
    if not ids:
        raise BundleError("没有给出要转交的受助人员编号；例如 kinmatch refer --db studio.sqlite R1 R2 -o 转交.zip")
    residents = []
    unknown = []
    for resident_id in ids:
        record = store.resident(resident_id)
        (unknown.append(resident_id) if record is None else residents.append(record))
    if unknown:
        raise BundleError(f"案件库中没有受助人员 {'、'.join(unknown)}；"
                          f"请检查编号（kinmatch review load 载入后才能转交）")
    stations = {str(r.get("station")).strip() for r in residents if r.get("station")}
    station = (station or (stations.pop() if len(stations) == 1 else "")).strip()
    if not station:
        raise BundleError("无法确定转出的救助站名称（记录中没有或不止一个救助站）；请用 --station 指明")
    candidates, reports = [], {}
    for resident_id in ids:
        for row in _rows(store.candidates_of("resident", resident_id)):
            candidates.append(row)
            if row["missing_id"] not in reports:
                report = dict(store.report(row["missing_id"]) or {"missing_id": row["missing_id"]})
                report.pop("contact", None)  # the family's contact never travels in a bundle
                reports[row["missing_id"]] = report
    current = store.current_decisions()
    excluded = current[current["resident_id"].isin(ids) & (current["decision"] == "not_same")]
    exclusions = [{k: row[k] for k in ("resident_id", "missing_id", "reason", "note", "reviewer", "decided_at")}
                  for row in _rows(excluded)]
    history = store.history()
    history = _rows(history[history["resident_id"].isin(ids)])
    events = store.events()
    events = _rows(events[events["resident_id"].isin(ids)])
    photo_files, photos_skipped = _photos(residents, photo_dir)
    report_list = list(reports.values())
    now = now or dt.datetime.now(dt.timezone.utc)
    matches = pd.DataFrame([c for c in candidates if c.get("decision") == "same"],
                           columns=["resident_id", "missing_id", "decision", "explanation"])
    files = {
        "records.json": json.dumps({"residents": residents, "reports": report_list, "candidates": candidates,
                                    "exclusions": exclusions}, ensure_ascii=False, indent=1).encode("utf-8"),
        "notes.json": json.dumps({"decisions": history, "events": events}, ensure_ascii=False,
                                 indent=1).encode("utf-8"),
        "受助人员.xlsx": _workbook(residents, report_list, candidates, exclusions, history, events),
        "pfif.xml": export_pfif(pd.DataFrame(residents), pd.DataFrame(report_list) if report_list else None,
                                matches, source_name=station, now=now).encode("utf-8"),
        **photo_files,
    }
    bundle_id = uuid.uuid4().hex
    manifest = {
        "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "bundle_id": bundle_id, "station": station,
        "created_by": recorded_by, "created_at": now.isoformat(timespec="seconds"), "residents": ids,
        "counts": {"residents": len(residents), "reports": len(report_list), "candidates": len(candidates),
                   "exclusions": len(exclusions), "photos": len(photo_files)},
        "photos_skipped": photos_skipped,
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in files.items()},
    }
    with atomic_write(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        for name, data in files.items():
            archive.writestr(name, data)
    for resident_id in ids:
        store.add_event(resident_id, "referred", recorded_by, event_date=now,
                        detail={"direction": "sent", "bundle_id": bundle_id, "station": station,
                                "file": Path(path).name})
    return manifest


# ---------------------------------------------------------------- reading and importing

def safe_member_name(name: str) -> bool:
    """Whether a zip member name stays inside the folder it is unpacked to (no zip-slip): relative,
    ``/``-separated, and no empty, ``.`` or ``..`` part.

    >>> safe_member_name("photos/R1.jpg"), safe_member_name("photos/../../etc/passwd")
    (True, False)
    """
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def read_bundle(path: str | os.PathLike) -> Bundle:
    """Open and check a referral bundle; raises :class:`BundleError` (in Chinese) if a member's
    path could escape the target folder, is a link, is not in the manifest (or a manifest file is
    absent), or a checksum or size does not match. Nothing is unpacked to disk."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise BundleError(f"{path.name} 不是有效的 zip 文件（可能下载不完整）；请重新获取转交包") from None
    with archive:
        infos = archive.infolist()
        for info in infos:
            if not safe_member_name(info.filename):
                raise BundleError(f"转交包 {path.name} 含有不安全的路径 {info.filename!r}（会写到目标目录之外）；"
                                  f"已拒绝导入，请向转出站核实")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise BundleError(f"转交包 {path.name} 含有链接 {info.filename!r}；已拒绝导入，请向转出站核实")
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise BundleError(f"转交包 {path.name} 含有重名文件；已拒绝导入，请向转出站核实")
        if "manifest.json" not in names:
            raise BundleError(f"{path.name} 没有 manifest.json，不是 kinmatch 转交包")
        if sum(info.file_size for info in infos) > MAX_BUNDLE_BYTES:
            raise BundleError(f"转交包 {path.name} 解压后超过 {MAX_BUNDLE_BYTES // 1024 ** 3} GB；已拒绝导入")
        try:
            manifest = json.loads(archive.read("manifest.json").decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise BundleError(f"{path.name} 的 manifest.json 无法读取；请重新获取转交包") from None
        if manifest.get("format") != BUNDLE_FORMAT or manifest.get("version") != BUNDLE_VERSION:
            raise BundleError(f"{path.name} 不是本版本的 kinmatch 转交包（格式 {manifest.get('format')!r}，"
                              f"版本 {manifest.get('version')!r}）；请用相同版本的 kinmatch 重新生成")
        listed = manifest.get("files") or {}
        for name in listed:
            if not safe_member_name(name):
                raise BundleError(f"转交包 {path.name} 的清单含有不安全的路径 {name!r}；已拒绝导入")
        extra = sorted(set(names) - set(listed) - {"manifest.json"})
        absent = sorted(set(listed) - set(names))
        if extra or absent:
            raise BundleError(f"转交包 {path.name} 与清单不符（多出：{'、'.join(extra) or '无'}；缺少："
                              f"{'、'.join(absent) or '无'}）；可能被改动或不完整，请重新获取")
        files = {}
        for name, expected in listed.items():
            with archive.open(name) as member:
                data = member.read(int(expected.get("bytes", 0)) + 1)
            if len(data) != expected.get("bytes") or hashlib.sha256(data).hexdigest() != expected.get("sha256"):
                raise BundleError(f"转交包 {path.name} 中 {name} 的校验值不符：文件在转出后被改动或损坏；"
                                  f"已拒绝导入，请重新获取转交包")
            files[name] = data
    for required in ("records.json", "notes.json"):
        if required not in files:
            raise BundleError(f"转交包 {path.name} 缺少 {required}；请用 kinmatch refer 重新生成")
    return Bundle(manifest=manifest, files=files)


def _imported(store, bundle_id: str) -> bool:
    events = store.events()
    referred = events[events["event"] == "referred"]
    return any(isinstance(d, Mapping) and d.get("bundle_id") == bundle_id and d.get("direction") == "received"
               for d in referred["detail"])


def _write_photos(bundle: Bundle, photo_dir: str | os.PathLike) -> tuple[int, list[str]]:
    root = Path(photo_dir).resolve()
    written, kept = 0, []
    for name, data in bundle.files.items():
        if not name.startswith("photos/"):
            continue
        relative = name[len("photos/"):]
        target = (root / relative).resolve()
        if not target.is_relative_to(root):  # read_bundle refused such names already; belt and braces
            raise BundleError(f"照片路径 {name!r} 会写到照片目录之外；已拒绝")
        if target.exists():
            if target.read_bytes() != data:
                kept.append(relative)  # the studio's own file of that name is never overwritten
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    return written, kept


def import_bundle(store, path: str | os.PathLike, *, recorded_by: str,
                  photo_dir: str | os.PathLike | None = None) -> dict:
    """Load a referral bundle into ``store``; returns counts.

    Residents are inserted or updated; reports only when the store has none of that id (the
    studio's own copy, with the family's contact, is kept); candidate pairs only when not yet
    stored. Each exclusion becomes a ``not_same`` decision by :func:`referral_reviewer` unless the
    pair already has a decision here (``kept`` if that is an exclusion too, else listed in
    ``conflicts`` and left for a reviewer). With ``photo_dir`` the photos are written there
    (never over a different file of the same name).
    """
    bundle = read_bundle(path)
    manifest = bundle.manifest
    if _imported(store, manifest["bundle_id"]):
        raise BundleError(f"转交包 {Path(path).name}（{manifest['bundle_id'][:8]}）已经导入过；"
                          f"重复导入会重复记录，已跳过")
    records = bundle.json("records.json")
    notes = bundle.json("notes.json")
    reviewer = referral_reviewer(manifest["station"])
    residents = pd.DataFrame(records["residents"])
    new_reports = [r for r in records["reports"] if store.report(r["missing_id"]) is None]
    store.load_records(residents, pd.DataFrame(new_reports) if new_reports else None)
    new_pairs = [c for c in records["candidates"] if store.candidate(c["resident_id"], c["missing_id"]) is None]
    if new_pairs:
        store.load_candidates(pd.DataFrame(new_pairs)[["resident_id", "missing_id", "match_probability",
                                                       "explanation"]],
                              run_id=f"referral-{manifest['bundle_id'][:12]}", compute_levels=False)
    counts = {"residents": len(residents), "reports": len(new_reports), "candidates": len(new_pairs),
              "exclusions": 0, "kept": 0, "conflicts": [], "comments": 0, "photos": 0, "photos_kept": []}
    for exclusion in records["exclusions"]:
        current = store.candidate(exclusion["resident_id"], exclusion["missing_id"])
        if current is not None and current.get("decision") == "not_same":
            counts["kept"] += 1
            continue
        if current is not None and current.get("decision") is not None:
            counts["conflicts"].append((exclusion["resident_id"], exclusion["missing_id"], current["decision"]))
            continue
        note = f"原审核人 {exclusion['reviewer']}（{exclusion['decided_at']}）"
        if exclusion.get("note"):
            note += f"：{exclusion['note']}"
        store.decide(exclusion["resident_id"], exclusion["missing_id"], "not_same", reviewer,
                     reason=exclusion.get("reason"), note=note)
        counts["exclusions"] += 1
    for event in notes["events"]:
        if event["event"] != "comment":
            continue
        detail = dict(event.get("detail") or {})
        detail.update({"original_by": event["recorded_by"], "bundle_id": manifest["bundle_id"]})
        store.add_event(event["resident_id"], "comment", reviewer, missing_id=event.get("missing_id"),
                        event_date=pd.Timestamp(event["event_date"]).to_pydatetime(), detail=detail)
        counts["comments"] += 1
    if photo_dir is not None:
        counts["photos"], counts["photos_kept"] = _write_photos(bundle, photo_dir)
    for resident_id in manifest["residents"]:
        store.add_event(resident_id, "referred", recorded_by,
                        detail={"direction": "received", "bundle_id": manifest["bundle_id"],
                                "station": manifest["station"], "file": Path(path).name})
    return counts
