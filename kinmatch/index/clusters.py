"""Duplicate reports of one person, stored in the standing index (:mod:`kinmatch.match.dedupe`).

Every generation that changes the reports stores their clusters beside the report side, as two
Parquet files under ``derived/`` (any Arrow reader opens them) and a record in the manifest::

    derived/missing-000007-….clusters.parquet  missing_id, cluster_id, cluster_size: every report
    derived/missing-000007-….links.parquet     the report pairs linked at or above the threshold:
                                               missing_id_l, missing_id_r, match_probability,
                                               match_weight, explanation, passes, cluster_id, kept
    manifest["report_clusters"]                 files, the report-pair model (JSON), its settings,
                                               how the clusters were made and over how many reports

Only an index built with ``dedupe_reports=True`` (``kinmatch index build --dedupe``) keeps them
(or one refreshed with it); the others cluster on demand, with a warning, when a run asks for
clusters (:func:`compute_for`).

**Build** (and :meth:`~kinmatch.index.Index.refresh`, :meth:`~kinmatch.index.Index.rebuild`, an
``add`` to an index that holds no clusters yet): :func:`~kinmatch.match.dedupe.dedupe_reports` of
every report, fitting the report-pair model; the same clusters a batch ``kinmatch link --dedupe``
finds for the same report file.

**Add**: the model is kept (as the linking model is; a day's additions do not move the clusters
of the reports already there). Only the report pairs with at least one added or replaced report
are proposed (the same blocking passes, the blocks counted over every report) and scored; the
stored links of the other pairs are kept, a replaced report's old links are dropped, and the
clusters are the connected components of all the links, chains cut as
:func:`~kinmatch.match.dedupe.cluster_links` cuts them. So an index built in several adds has
exactly the clusters of :func:`~kinmatch.match.dedupe.dedupe_reports` of all its reports *with the
model of its build* (``model=``), except where the additions changed what an earlier pair's score
read from the whole file, which the kept links do not see:

- a blocking block that grew past ``max_block_size`` no longer proposes its pairs at once, but its
  earlier links are kept;
- the rarity the comparisons read (a name's share of all reports, a phone number seen in more
  than :data:`~kinmatch.match.dedupe.PHONE_MAX_REPORTS` reports becoming a hotline) moves with the
  file, and a kept link keeps the weight it had when it was scored.

It differs from one built at once by the model too: one build fits it on all reports, the other
on the first file. :meth:`~kinmatch.index.Index.refresh` clusters every report again with a new fit.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.index import storage

CLUSTERS_VERSION = 1
"""The layout of the stored clusters this kinmatch reads; another is clustered again."""

_CLUSTER_COLUMNS = ["missing_id", "cluster_id", "cluster_size"]


def _settings_record(settings: Any) -> dict[str, Any]:
    """The clustering settings as the manifest stores them (through JSON, so a stored record and a
    fresh one compare equal when the settings are the same)."""
    return json.loads(json.dumps({
        "threshold": float(settings.threshold), "max_cluster_size": int(settings.max_cluster_size),
        "max_block_size": int(settings.max_block_size), "n_random_pairs": int(settings.n_random_pairs),
        "random_state": settings.random_state, "comparisons": [c.to_dict() for c in settings.comparisons]},
        ensure_ascii=False, default=str))


def _model_from(record: dict[str, Any]):
    from kinmatch.match.model import FellegiSunter

    return FellegiSunter.from_json(json.dumps(record["model"], ensure_ascii=False)) if record.get("model") else None


def update(missing: pd.DataFrame, previous: dict[str, Any] | None, directory: Path,
           changed: Any = None):
    """The clusters of the normalized reports ``missing`` (every indexed report, in the index's
    order), and how they were made: ``changed`` (the ids added or replaced by this generation)
    and ``previous`` (the manifest's record of the stored clusters) given, only the pairs with a
    changed report are scored, with the stored model (module docstring); else every report is
    clustered and the model fitted. Returns (:class:`~kinmatch.match.dedupe.ReportClusters`,
    ``"built"`` or ``"updated"``)."""
    from kinmatch.match.dedupe import DedupeSettings, cluster_links, dedupe_reports, report_pairs, score_report_pairs

    settings = DedupeSettings()
    if not missing.index.equals(pd.RangeIndex(len(missing))):
        missing = missing.reset_index(drop=True)
    usable = (previous is not None and changed is not None and previous.get("version") == CLUSTERS_VERSION
              and previous.get("settings") == _settings_record(settings) and previous.get("model"))
    stored = None
    if usable:
        try:
            stored = pd.read_parquet(directory / previous["links"])
        except (OSError, ValueError, KeyError):  # damaged: clustered again below
            stored = None
    if stored is None:
        return dedupe_reports(missing, settings), "built"
    model = _model_from(previous)
    ids = missing["missing_id"].astype(str).to_numpy(dtype=object)
    touched = pd.Index(ids).isin(pd.Index(pd.unique(np.asarray(list(changed), dtype=object))))
    pairs, pass_counts = report_pairs(missing, settings, touching=np.asarray(touched, dtype=bool))
    new_links = score_report_pairs(missing, pairs, model, settings)
    changed_ids = set(ids[touched])
    old = stored[~(stored["missing_id_l"].isin(changed_ids) | stored["missing_id_r"].isin(changed_ids))]
    links = pd.concat([old.drop(columns=["cluster_id", "kept"]), new_links], ignore_index=True) if len(new_links) \
        else old.drop(columns=["cluster_id", "kept"]).reset_index(drop=True)
    return cluster_links(ids, links, settings, model, pass_counts), "updated"


def save(directory: Path, manifest: dict[str, Any], clusters: Any, how: str) -> None:
    """Write ``clusters`` as this generation's files and put their record in ``manifest`` (not yet
    committed)."""
    from kinmatch.match.dedupe import DedupeSettings

    base = storage.derived_path(directory, "missing", manifest["generation"], "clusters.parquet")
    links_path = base.with_name(base.name.replace(".clusters.parquet", ".links.parquet"))
    base.parent.mkdir(exist_ok=True)
    _write(clusters.clusters[_CLUSTER_COLUMNS], base)
    links = clusters.links.astype({"cluster_id": object, "kept": bool})
    _write(links, links_path)
    multi = clusters.clusters["cluster_size"] > 1
    manifest["report_clusters"] = {
        "version": CLUSTERS_VERSION, "clusters": f"{storage.DERIVED}/{base.name}",
        "links": f"{storage.DERIVED}/{links_path.name}", "how": how, "at": storage.now(),
        "reports": int(len(clusters.clusters)), "reports_with_duplicates": int(multi.sum()),
        "clusters_with_duplicates": int(clusters.clusters.loc[multi, "cluster_id"].nunique()),
        "settings": _settings_record(DedupeSettings()),
        "model": json.loads(clusters.model.to_json()) if clusters.model is not None else None}


def _write(frame: pd.DataFrame, path: Path) -> None:
    """A Parquet file written under a temporary name, fsynced, then renamed (never half there)."""
    import os

    part = path.with_name(f".{path.name}.part")
    frame.reset_index(drop=True).to_parquet(part, index=False)
    with open(part, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(part, path)


def load(directory: Path, manifest: dict[str, Any]):
    """The stored clusters of the reports with duplicates (what ranking reads; a report not listed
    is a cluster of one) and the model, as a :class:`~kinmatch.match.dedupe.ReportClusters` with
    no links; None when the manifest names no clusters of this layout or their file is unreadable."""
    from kinmatch.match.dedupe import ReportClusters

    record = manifest.get("report_clusters") or {}
    if record.get("version") != CLUSTERS_VERSION or not isinstance(record.get("clusters"), str):
        return None
    try:
        frame = pd.read_parquet(directory / record["clusters"], filters=[("cluster_size", ">", 1)])
    except (OSError, ValueError, KeyError):
        return None
    from kinmatch.match.dedupe import LINK_COLUMNS

    return ReportClusters(frame[_CLUSTER_COLUMNS].reset_index(drop=True), pd.DataFrame(columns=LINK_COLUMNS),
                          _model_from(record), pd.DataFrame(columns=["pass", "pairs", "blocks_skipped"]))


def links(directory: Path, manifest: dict[str, Any]) -> pd.DataFrame:
    """Every stored link (the report pairs at or above the threshold, cut ones with ``kept``
    False), or an empty frame when the index stores none."""
    from kinmatch.match.dedupe import LINK_COLUMNS

    record = manifest.get("report_clusters") or {}
    if record.get("version") != CLUSTERS_VERSION:
        return pd.DataFrame(columns=LINK_COLUMNS)
    return pd.read_parquet(directory / record["links"])


def compute_for(index: Any):
    """Clusters of an opened index that stores none (built without ``dedupe_reports``, or by an
    older kinmatch): every report clustered now, with a warning that this is done on every opening
    until the index keeps them."""
    import time

    from kinmatch.match.dedupe import dedupe_reports

    started = time.perf_counter()
    found = dedupe_reports(index.missing)
    warnings.warn(f"index {str(index.path)!r} stores no clusters of duplicate reports for this kinmatch (it was "
                  f"built without --dedupe, or by an older kinmatch), so the {len(index.missing):,} reports were "
                  f"clustered in {time.perf_counter() - started:.0f} s, as they will be whenever the index is "
                  f"opened; kinmatch.Index.refresh({str(index.path)!r}, dedupe_reports=True) stores them once "
                  f"and keeps them up to date on every `kinmatch index add`", stacklevel=4)
    return found


def members_of(clusters: Any, ids: Any) -> np.ndarray:
    """``ids`` followed by every other member of their clusters (each id once): the reports a run
    must read to fill a candidate's blanks from its cluster."""
    ids = pd.unique(np.asarray(ids, dtype=object))
    frame = clusters.clusters
    if not len(frame):
        return ids
    wanted = frame.loc[frame["missing_id"].isin(ids), "cluster_id"].unique()
    others = frame.loc[frame["cluster_id"].isin(wanted) & ~frame["missing_id"].isin(ids), "missing_id"]
    return np.concatenate([ids, others.to_numpy(dtype=object)])
