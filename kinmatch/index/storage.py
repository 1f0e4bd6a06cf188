"""The index directory on disk: immutable segments, numbered manifests, one ``CURRENT`` pointer.

::

    INDEX_DIR/
      CURRENT                        the name of the current manifest, e.g. manifest-000007.json
      manifest-000007.json           format and versions, sources, counts, the model, the segments
      segments/missing-000007-….parquet   normalized reports added in generation 7 (never rewritten)
      segments/residents-….parquet        normalized residents, when residents are indexed
      derived/missing-000007-….arrays the reports' side of linking (arrays) and the columns the
      derived/missing-000007-….arrow comparisons read (kinmatch.index.side): computed from the
                                     segments, updated and written anew whenever reports are added
      .lock                          held by the one process writing (build, add, refit)

A write never changes a file a reader may be reading: it writes its new segment and its new
manifest under fresh names, fsyncs them, and then replaces ``CURRENT`` with one atomic rename.
A writer killed at any point before that rename leaves ``CURRENT`` naming the previous, complete
generation; its half-written files are removed by the next writer. The records of a kind are
its segments read in order, a later version of an id replacing the earlier one.

Writers take ``.lock`` (a ``filelock`` lock: released by the operating system when the holding
process dies, so a killed writer never leaves the index locked); a second writer waits up to its
timeout and then stops with :class:`IndexBusyError`. Readers take no lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from kinmatch.errors import InputError, KinmatchError

FORMAT = "kinmatch-index"
FORMAT_VERSION = 1
"""The on-disk format this kinmatch reads and writes; an index of another version is refused."""

KINDS = ("missing", "residents")
ID_COLUMNS = {"missing": "missing_id", "residents": "resident_id"}
CURRENT = "CURRENT"
SEGMENTS = "segments"
DERIVED = "derived"
LOCK = ".lock"
KEEP_GENERATIONS = 2
"""Manifests (and their segments) kept: the current one and the one before, so a reader that read
``CURRENT`` just before a write can still open what it named."""


class IndexBusyError(KinmatchError):
    """Another process is writing the index."""


class IndexFormatError(InputError):
    """The directory is not an index this kinmatch can read (another format or reference-data version)."""


_REFERENCE_VERSION: str | None = None


def reference_data_version() -> str:
    """The first 16 hex of the SHA-256 over the reference data shipped in ``kinmatch/data``
    (names and contents): normalized records depend on it, so an index remembers the version it
    was normalized with."""
    global _REFERENCE_VERSION
    if _REFERENCE_VERSION is None:
        digest = hashlib.sha256()
        root = resources.files("kinmatch.data")
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if entry.is_file() and not entry.name.endswith((".py", ".pyc")):
                digest.update(entry.name.encode("utf-8") + b"\0" + entry.read_bytes())
        _REFERENCE_VERSION = digest.hexdigest()[:16]
    return _REFERENCE_VERSION


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def is_index(directory: Path) -> bool:
    return (directory / CURRENT).is_file()


def read_manifest(directory: Path) -> dict[str, Any]:
    """The current manifest of the index at ``directory`` (not yet checked for versions)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"index {str(directory)!r} does not exist; build one with "
                         f"`kinmatch index build REPORTS.csv -o {directory}`")
    if not is_index(directory):
        raise IndexFormatError(f"{str(directory)!r} is not a kinmatch index (it has no {CURRENT} file); build one "
                               f"with `kinmatch index build REPORTS.csv -o DIR` into an empty folder")
    name = (directory / CURRENT).read_text(encoding="utf-8").strip()
    with open(directory / name, encoding="utf-8") as handle:
        manifest = json.load(handle)
    manifest["_name"] = name
    return manifest


def check_manifest(manifest: dict[str, Any], directory: Path) -> None:
    """Refuse an index this kinmatch cannot use, saying why and what to do."""
    if manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{str(directory)!r} is not a kinmatch index (format {manifest.get('format')!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"index {str(directory)!r} has format version {version} (built by kinmatch "
            f"{manifest.get('kinmatch_version')}); this kinmatch reads version {FORMAT_VERSION}. Build it again "
            f"with this kinmatch: `kinmatch index rebuild {directory}` (it re-normalizes the stored records)")
    reference = manifest.get("reference_data_version")
    if reference != reference_data_version():
        raise IndexFormatError(
            f"index {str(directory)!r} was normalized with reference data {reference} (kinmatch "
            f"{manifest.get('kinmatch_version')}); this kinmatch ships reference data {reference_data_version()}, "
            f"so places and name sounds would be compared with other tables than the ones its records were "
            f"normalized with. Run `kinmatch index rebuild {directory}` to re-normalize the stored records "
            f"(the model is kept)")


def new_manifest() -> dict[str, Any]:
    from kinmatch import __version__

    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kinmatch_version": __version__,
            "reference_data_version": reference_data_version(), "generation": 0, "created_at": now(),
            "updated_at": now(), "segments": {kind: [] for kind in KINDS}, "counts": {kind: 0 for kind in KINDS},
            "sources": [], "model": None, "model_origin": None, "report_side": None}


@contextlib.contextmanager
def writer_lock(directory: Path, timeout: float) -> Iterator[None]:
    """Hold the index's write lock; wait up to ``timeout`` seconds for another writer to finish."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(Path(directory) / LOCK), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise IndexBusyError(
            f"index {str(directory)!r} is being written by another process (an `index add`, `build` or `refit`), "
            f"and it did not finish within {timeout:g} s; the index is unchanged. Run the command again when "
            f"the other one has finished, or give it longer with --wait SECONDS") from None
    try:
        yield
    finally:
        lock.release()


def derived_path(directory: Path, kind: str, generation: int, suffix: str) -> Path:
    """A fresh name for a file computed from a kind's segments (:mod:`kinmatch.index.side`)."""
    return Path(directory) / DERIVED / f"{kind}-{generation:06d}-{secrets.token_hex(4)}.{suffix}"


def segment_path(directory: Path, kind: str, generation: int) -> Path:
    """A fresh segment file name (random part: a killed writer's leftovers never collide)."""
    return Path(directory) / SEGMENTS / f"{kind}-{generation:06d}-{secrets.token_hex(4)}.parquet"


def commit(directory: Path, manifest: dict[str, Any]) -> str:
    """Write ``manifest`` as the next generation and point ``CURRENT`` at it (the atomic step).
    The caller holds the write lock and has written (and fsynced) every segment it names."""
    from kinmatch._io import atomic_write

    directory = Path(directory)
    manifest = {k: v for k, v in manifest.items() if not k.startswith("_")}
    manifest["updated_at"] = now()
    name = f"manifest-{manifest['generation']:06d}.json"
    with atomic_write(directory / name) as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=1)
    with atomic_write(directory / CURRENT) as handle:
        handle.write(name + "\n")
    _fsync_directory(directory)
    collect_garbage(directory)
    return name


def _fsync_directory(directory: Path) -> None:
    """Make the renames durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def collect_garbage(directory: Path) -> None:
    """Remove manifests older than :data:`KEEP_GENERATIONS`, segments none of the kept manifests
    names, and what killed writers left half-written. Only a writer holding the lock calls this."""
    directory = Path(directory)
    manifests = sorted(directory.glob("manifest-*.json"))
    kept, stale = manifests[-KEEP_GENERATIONS:], manifests[:-KEEP_GENERATIONS]
    referenced = set()
    for path in kept:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        for segments in manifest["segments"].values():
            referenced.update(segment["file"] for segment in segments)
        derived = manifest.get("report_side") or {}
        referenced.update(derived[key] for key in ("arrays", "rows") if isinstance(derived.get(key), str))
        clusters = manifest.get("report_clusters") or {}  # kinmatch.index.clusters
        referenced.update(clusters[key] for key in ("clusters", "links") if isinstance(clusters.get(key), str))
    for path in stale:
        _remove(path)
    for folder in (SEGMENTS, DERIVED):
        if (directory / folder).is_dir():
            for path in (directory / folder).iterdir():
                if f"{folder}/{path.name}" not in referenced:
                    _remove(path)
    for path in directory.glob(".*.part"):
        _remove(path)


def _remove(path: Path) -> None:
    """Remove a file no manifest kept names. An opened index holds its generation's files open;
    where the system refuses to remove an open file (Windows), the next writer removes it."""
    try:
        path.unlink(missing_ok=True)
    except PermissionError:
        pass
