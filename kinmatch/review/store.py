"""The case store: residents, reports, scored candidate pairs and reviewers' decisions.

An embedded SQLite file by default, or PostgreSQL by URL; the schema is kept up to date by the
Alembic migrations shipped in ``kinmatch/review/migrations`` (run on open)::

    >>> import tempfile, pathlib, kinmatch
    >>> from kinmatch.review import Store
    >>> sim = kinmatch.datasets.simulate(20, 20, seed=1)                     # doctest: +SKIP
    >>> candidates = kinmatch.link(sim.residents, sim.missing, top_k=3)      # doctest: +SKIP
    >>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "cases.db")
    >>> store.load_candidates(candidates, sim.residents, sim.missing)       # doctest: +SKIP
    >>> pair = store.queue(limit=1).iloc[0]                                  # doctest: +SKIP
    >>> store.decide(pair.resident_id, pair.missing_id, "not_same", "reviewer1", reason="性别不符")  # doctest: +SKIP

Decisions are append-only: :meth:`Store.decide` only ever inserts, the current decision of a pair
is its latest row, and :meth:`Store.history` shows every earlier one. A pair decided ``not_same``
(excluded) never returns to the queue, whatever a later linking run scores it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import secrets
import uuid
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, create_engine, event, exists, func, or_, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import null as sa_null
from sqlalchemy.engine import Engine, make_url

from kinmatch.errors import InputError, KinmatchError
from kinmatch.review import schema as s

__all__ = ["Store", "StoreError", "DecisionConflict", "DECISION_LABELS", "EXCLUSION_REASONS", "store_url",
           "UNCHECKED"]

DECISION_LABELS = {"same": "同一人（送DNA核验）", "not_same": "非同一人", "unsure": "不确定"}
EXCLUSION_REASONS = ("DNA排除", "性别不符", "年龄不可能", "体貌特征矛盾", "已被他人认领", "其他")
"""Reasons offered when a pair is excluded (any text is accepted)."""

# Columns docs/contract.md §2 adds to a canonical frame: not part of the record as written, so
# they are left out of the stored JSON (the store keeps what staff and families wrote).
_NORMALIZED = re.compile(
    r"^(name_(norm|surname|given|kind|evidence|pinyin|keys|jyutping)|surname_keys|given_keys|"
    r"alias_(norm|keys)|sex_code|age_(low|high)|birth_year_(low|high)|height_(cm|tol_cm)|"
    r"event_date(_precision)?|birth_date_(value|precision)|"
    r"(found|missing|home)_(province|prefecture|county|lon|lat|place_score)|"
    r"accent_(area|provinces)|home_dialect_area|statement_(places|names)|marks|negated|build|"
    r"hair|conditions)$")
_PLACE_FIELDS = {"resident": ("found_place", "statements", "accent"),
                 "report": ("missing_place", "hometown", "dialect")}
"""Fields a place search (上海) looks in; a report's address-like contact fields are never searched."""
_ALIAS_SPLIT = re.compile(r"[、,，;；/／\s]+")
_CHUNK = 500
USERNAME_MAX = 64
"""Longest user name :meth:`Store.add_user` accepts; a longer one cannot be an account."""
_LOG_LIMITS = {"username": 128, "action": 32, "record_kind": 16, "record_id": 128, "detail": 1000}
"""Characters kept of each access-log field: the log records attempts made before anyone logged
in (a user name typed at the login page), so a hostile request must not be able to grow it at will."""
UNCHECKED = object()
"""``based_on`` default of :meth:`Store.decide`: record the decision whatever the pair's current one."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def store_url(path_or_url: str | os.PathLike) -> str:
    """The SQLAlchemy URL for a store given as a file path or a URL.

        >>> store_url("/tmp/cases.db")
        'sqlite:////tmp/cases.db'
        >>> store_url("postgresql://kin@127.0.0.1:5432/cases")
        'postgresql+psycopg://kin@127.0.0.1:5432/cases'
    """
    text_ = str(path_or_url)
    if "://" not in text_:
        return "sqlite:///" + str(Path(text_).expanduser().resolve())
    if text_.startswith(("postgresql://", "postgres://")):
        # psycopg 3 is the driver kinmatch installs; SQLAlchemy would otherwise look for psycopg2
        return "postgresql+psycopg://" + text_.split("://", 1)[1]
    return text_


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (tuple, list, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.date, dt.datetime)):
        return None if pd.isna(value) else value.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _jsonable(v) for k, v in row.items() if not _NORMALIZED.match(str(k))}


def _name_keys(name: Any, alias: Any) -> str:
    """``|key|key|`` of the name's and aliases' sound keys, so SQL ``LIKE '%|key|%'`` finds them."""
    from kinmatch.normalize.phonetics import latin_keys, name_keys

    keys: set[str] = set()
    for part in [name, *(_ALIAS_SPLIT.split(alias) if isinstance(alias, str) else [])]:
        if isinstance(part, str) and part.strip():
            try:
                keys.update(name_keys(part.strip()))
                keys.update(latin_keys(part.strip()))
            except Exception:  # a name phonetics cannot read is still stored and found by text
                continue
    return "|" + "|".join(sorted(keys)) + "|" if keys else ""


def _text(value: Any) -> str | None:
    value = _jsonable(value)
    return None if value is None else str(value)


class StoreError(KinmatchError):
    """The store cannot do what was asked (unknown pair, bad decision code, unknown user...)."""


class DecisionConflict(StoreError):
    """The pair's current decision is not the one the new decision was based on: someone else
    decided it in between. ``current`` is that decision's row (a dict), or None if it has none."""

    def __init__(self, message: str, current: dict | None):
        super().__init__(message)
        self.current = current


def _truncated(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = str(value)
    return value if len(value) <= limit else value[:limit - 1] + "…"


SEEN_COLUMNS = ("seen_probability", "seen_weight", "seen_explanation", "seen_levels_json", "seen_model_version",
                "seen_run_id")
"""What the reviewer saw when deciding, kept with each decision (migration 0007)."""
_CLUSTER_COLUMNS = ("cluster_id", "cluster_members", "cluster_evidence")
"""The reports of one person a pair stands for (migration 0008)."""


class Store:
    """A case store at a file path (SQLite) or URL (``postgresql+psycopg://user@host/db``).

    Opening runs the Alembic migrations (``upgrade=False`` skips them), so an old store file is
    brought up to the current schema. ``create=False`` refuses (with an
    :class:`~kinmatch.errors.InputError`) a path or database that holds no store yet, instead
    of creating an empty one. A server that cannot be reached or a file that cannot be opened is
    an ``InputError`` naming the URL (password hidden) and the driver's reason. Use as a context
    manager or call :meth:`close`.
    """

    def __init__(self, path_or_url: str | os.PathLike, *, upgrade: bool = True, create: bool = True):
        from sqlalchemy.exc import OperationalError

        self.url = store_url(path_or_url)
        shown = make_url(self.url).render_as_string(hide_password=True)
        parsed = make_url(self.url)
        is_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
        if not create and is_file and not Path(parsed.database).is_file():
            what = ("is a folder, not a store file" if Path(parsed.database).is_dir()
                    else "does not exist (a typo in --db?)")
            raise InputError(f"no case store at {parsed.database}: the path {what}. Check the path; "
                             f"`kinmatch review load --db PATH ...` creates a store.")
        try:
            self.engine = self._engine(self.url)
            if not create and self.revision() is None:
                self.engine.dispose()
                raise InputError(f"{shown} holds no case store (no kinmatch tables). Check --db; "
                                 f"`kinmatch review load --db URL ...` creates a store.")
            if upgrade:
                self.upgrade()
        except OperationalError as error:
            # the driver's first line says why (refused, unknown database, unable to open file)
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise InputError(f"cannot open the case store {shown}: {reason}. Check that the server is "
                             f"running and the URL or path is right.") from None
        except OSError as error:  # the folder of a new SQLite file cannot be made
            raise InputError(f"cannot create the case store {shown}: {error.strerror or error} "
                             f"({error.filename or parsed.database}). Choose a folder you can write to.") from None

    # ---- engine and migrations ------------------------------------------------------------

    @staticmethod
    def _engine(url: str) -> Engine:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return create_engine(url, pool_pre_ping=True)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Let SQLAlchemy, not the sqlite3 module, start transactions (see _on_begin).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            # IMMEDIATE takes the write lock up front: two reviewers writing at once queue on the
            # busy timeout instead of one failing with "database is locked" on lock upgrade.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` with the packaged Alembic migrations."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(resources.files("kinmatch.review") / "migrations"))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # two processes opening a fresh store at once must not both create the tables
                connection.execute(text("SELECT pg_advisory_xact_lock(74657001)"))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        self._schema_columns = None  # the schema changed: look it up again

    def _has(self, table: str, column: str | None = None) -> bool:
        """Whether the store's schema has ``table`` (and its ``column``): a store opened with
        ``upgrade=False`` may predate a migration. Looked up once, again after :meth:`upgrade`."""
        if getattr(self, "_schema_columns", None) is None:
            with self.engine.connect() as conn:
                inspector = sa_inspect(conn)
                self._schema_columns = {name: {c["name"] for c in inspector.get_columns(name)}
                                        for name in inspector.get_table_names()}
        columns = self._schema_columns.get(table)
        return columns is not None and (column is None or column in columns)

    def revision(self) -> str | None:
        """The schema revision the store is at (``None`` before any migration)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r})"

    # ---- settings -------------------------------------------------------------------------

    def setting(self, key: str, default: str | None = None) -> str | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(s.settings.c.value).where(s.settings.c.key == key)).scalar()
        return default if value is None else value

    def secret_key(self) -> str:
        """The web app's session key: generated once per store and kept in it, so sessions
        survive a restart and two stores never share a key."""
        existing = self.setting("secret_key")
        if existing:
            return existing
        value = secrets.token_hex(32)
        with self.engine.begin() as conn:
            if conn.execute(select(s.settings.c.value).where(s.settings.c.key == "secret_key")).scalar() is None:
                conn.execute(s.settings.insert().values(key="secret_key", value=value))
        return self.setting("secret_key")

    def set_setting(self, key: str, value: str) -> None:
        with self.engine.begin() as conn:
            self._upsert(conn, s.settings, [{"key": key, "value": value}], ["key"])

    def set_default_model(self, path: str | os.PathLike, metrics: Mapping[str, float],
                          n_pairs: int | None = None) -> dict:
        """Record a model saved by ``kinmatch train --save`` as this store's current default,
        with its cross-validated metrics, so the review pages can show it."""
        value = {"path": str(Path(path).expanduser().resolve()), "metrics": {k: float(v) for k, v in metrics.items()},
                 "n_pairs": n_pairs, "saved_at": _now().isoformat(timespec="seconds")}
        self.set_setting("default_model", json.dumps(value, ensure_ascii=False))
        return value

    def default_model(self) -> dict | None:
        """``{"path", "metrics", "n_pairs", "saved_at"}`` of the last model ``kinmatch train --save``
        wrote from this store, or ``None``."""
        value = self.setting("default_model")
        return None if value is None else json.loads(value)

    # ---- records and candidates -----------------------------------------------------------

    def _upsert(self, conn, table, rows: list[dict], keys: list[str]) -> None:
        if not rows:
            return
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif conn.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - other databases are not supported
            raise StoreError(f"the case store supports SQLite and PostgreSQL, not {conn.dialect.name}")
        columns = [c for c in rows[0] if c not in keys]
        for start in range(0, len(rows), _CHUNK):
            statement = insert(table).values(rows[start:start + _CHUNK])
            update = {c: statement.excluded[c] for c in columns}
            conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=update))

    def load_records(self, residents: pd.DataFrame | None = None, missing: pd.DataFrame | None = None) -> dict:
        """Insert or update resident and report records (canonical frames, as intake returns)."""
        with self.engine.begin() as conn:
            return self._load_records(conn, residents, missing)

    def _load_records(self, conn, residents: pd.DataFrame | None, missing: pd.DataFrame | None) -> dict:
        counts = {}
        now = _now()
        for frame, table, id_column in ((residents, s.residents, "resident_id"),
                                        (missing, s.reports, "missing_id")):
            if frame is None:
                continue
            if id_column not in frame.columns:
                raise InputError(f"the {table.name} frame has no {id_column!r} column; read it with "
                                 f"kinmatch.read_{'residents' if table is s.residents else 'missing'}")
            rows = []
            for record in frame.to_dict("records"):
                record_id = _text(record.get(id_column))
                if not record_id:
                    continue
                stored = _record(record)
                stored[id_column] = record_id
                rows.append({id_column: record_id, "name": _text(record.get("name")),
                             "name_keys": _name_keys(record.get("name"), record.get("alias")),
                             "record_json": json.dumps(stored, ensure_ascii=False),
                             "updated_at": now})
            self._upsert(conn, table, rows, [id_column])
            counts[table.name] = len(rows)
        return counts

    def load_candidates(self, candidates: pd.DataFrame, residents: pd.DataFrame | None = None,
                        missing: pd.DataFrame | None = None, *, run_id: str | None = None,
                        model_version: str | None = None, levels: pd.DataFrame | None = None,
                        compute_levels: bool = True, settings: Any = None) -> dict:
        """Store a linking run's candidates (the SCHEMA.md linking table) and their records.

        A pair already in the store gets this run's score and explanation; its decisions are
        untouched (they live in their own append-only table), so an excluded pair stays excluded
        and a confirmed one stays confirmed. ``levels`` are the pairs' comparison levels (a frame
        indexed by ``(resident_id, missing_id)``, as ``kinmatch.match.rank.run_link(...).vectors``);
        when omitted and both record frames are given they are computed here, so
        ``kinmatch train`` can later fit a model on reviewed pairs. ``settings``: the run's
        :class:`~kinmatch.match.settings.LinkSettings` (``run.settings`` of ``run_link``; None: the
        defaults), recorded with the run and used to compute the levels and to show the pairs.
        A table linked with duplicate reports clustered (``kinmatch link --dedupe``) brings each
        pair's ``cluster_id`` and ``cluster_members``: the pair stands for those reports of one
        person (:meth:`report_clusters`); its ``cluster_evidence`` says which comparisons were read
        from which member, and the levels stored for the pair are read from those members too, as
        the run scored it. Returns counts.
        """
        required = {"resident_id", "missing_id", "match_probability"}
        absent = required - set(candidates.columns)
        if absent:
            raise InputError(f"the candidate table has no column(s) {sorted(absent)}; load the table "
                             f"`kinmatch link` writes (resident_id, missing_id, rank, match_probability, ...)")
        run_id = run_id or dt.datetime.now(dt.timezone.utc).strftime("run-%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        frame = candidates.copy()
        frame["resident_id"] = frame["resident_id"].astype(str)
        frame["missing_id"] = frame["missing_id"].astype(str)
        frame["match_probability"] = pd.to_numeric(frame["match_probability"], errors="coerce")
        bad = frame["match_probability"].isna()
        if bad.any():
            warnings.warn(f"{int(bad.sum())} candidate rows have no match_probability and were not loaded "
                          f"(first: {frame.loc[bad, 'resident_id'].iloc[0]} × {frame.loc[bad, 'missing_id'].iloc[0]})",
                          stacklevel=2)
            frame = frame[~bad]
        frame = frame.drop_duplicates(["resident_id", "missing_id"], keep="first")
        evidence = _pair_evidence(frame)
        member_pairs = pd.DataFrame(sorted({(r, m) for (r, _), found in evidence.items() for m in found.values()}),
                                    columns=["resident_id", "missing_id"])
        records = residents is not None and missing is not None
        if levels is None and compute_levels and records and len(frame):
            # the pairs and the member reports their clusters read from, in one pass over the records
            pairs = pd.concat([frame[["resident_id", "missing_id"]], member_pairs]).drop_duplicates()
            levels = _comparison_levels(pairs, residents, missing, settings)
            against = levels
        else:
            against = (_comparison_levels(member_pairs, residents, missing, settings)
                       if records and len(member_pairs) and levels is not None else None)
        if evidence and levels is not None and against is not None and len(levels):
            levels = _levels_from_members(levels, evidence, against)
        weight_columns = [c for c in frame.columns if c.startswith("w_")]
        level_lookup = {}
        if levels is not None and len(levels):
            # one integer column per comparison (the run's, whatever its settings); tf_* are floats
            level_columns = [c for c in levels.columns if pd.api.types.is_integer_dtype(levels[c])]
            for key, row in zip(levels.index, levels[level_columns].to_numpy(), strict=True):
                level_lookup[(str(key[0]), str(key[1]))] = dict(zip(level_columns, (int(v) for v in row), strict=True))
        now = _now()
        # records and candidates in one transaction: a run killed half-way leaves nothing loaded
        has_runs = self._has("runs")  # looked up outside the write transaction (SQLite would lock)
        has_clusters = self._has("candidates", "cluster_id")
        has_evidence = self._has("candidates", "cluster_evidence")
        with self.engine.begin() as conn:
            self._load_records(conn, residents, missing)
            known_res = set(conn.execute(select(s.residents.c.resident_id)).scalars())
            known_rep = set(conn.execute(select(s.reports.c.missing_id)).scalars())
            existing = {(r, m): first for r, m, first in conn.execute(
                select(s.candidates.c.resident_id, s.candidates.c.missing_id, s.candidates.c.first_run_id))}
            # a candidate whose record was never loaded still needs a row to point at
            stubs_res = sorted(set(frame["resident_id"]) - known_res)
            stubs_rep = sorted(set(frame["missing_id"]) - known_rep)
            self._upsert(conn, s.residents, [{"resident_id": r, "name": None, "name_keys": "",
                                               "record_json": json.dumps({"resident_id": r}), "updated_at": now}
                                              for r in stubs_res], ["resident_id"])
            self._upsert(conn, s.reports, [{"missing_id": m, "name": None, "name_keys": "",
                                             "record_json": json.dumps({"missing_id": m}), "updated_at": now}
                                            for m in stubs_rep], ["missing_id"])
            rows = []
            for record in frame.to_dict("records"):
                key = (record["resident_id"], record["missing_id"])
                weights = {c[2:]: _jsonable(record[c]) for c in weight_columns}
                pair_levels = level_lookup.get(key)
                rank = record.get("rank")
                rows.append({
                    "resident_id": key[0], "missing_id": key[1], "run_id": run_id,
                    # the run's version, else the one `kinmatch link` wrote on each row
                    "model_version": model_version or _text(record.get("model_version")),
                    "rank": None if rank is None or pd.isna(rank) else int(rank),
                    "match_probability": float(record["match_probability"]),
                    "match_weight": _jsonable(pd.to_numeric(record.get("match_weight"), errors="coerce")),
                    "explanation": _text(record.get("explanation")),
                    "weights_json": json.dumps(weights, ensure_ascii=False),
                    "levels_json": None if pair_levels is None else json.dumps(pair_levels),
                    "first_run_id": existing.get(key, run_id), "loaded_at": now})
                if has_clusters:  # this run's view: a run without clusters clears an earlier run's
                    members = _text(record.get("cluster_members"))
                    rows[-1]["cluster_members"] = members if members and ";" in members else None
                    rows[-1]["cluster_id"] = _text(record.get("cluster_id")) if rows[-1]["cluster_members"] else None
                    if has_evidence:
                        evidence = _text(record.get("cluster_evidence")) if rows[-1]["cluster_members"] else None
                        rows[-1]["cluster_evidence"] = evidence or None
            self._upsert(conn, s.candidates, rows, ["resident_id", "missing_id"])
            if has_runs:  # a store not yet upgraded (upgrade=False) has no run records
                self._upsert(conn, s.runs, [{
                    "run_id": run_id, "model_version": model_version, "n_candidates": len(rows), "loaded_at": now,
                    "settings_json": (None if settings is None
                                      else json.dumps(_settings_dict(settings), ensure_ascii=False))}],
                    ["run_id"])
        keys = zip(frame["resident_id"], frame["missing_id"], strict=True)
        return {"run_id": run_id, "candidates": len(frame), "new_pairs": sum(k not in existing for k in keys),
                "stub_records": len(stubs_res) + len(stubs_rep)}

    def _record_of(self, table, id_column: str, record_id: str) -> dict | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(table.c.record_json).where(table.c[id_column] == str(record_id))).scalar()
        return None if value is None else json.loads(value)

    def resident(self, resident_id: str) -> dict | None:
        """The stored resident record (a dict of SCHEMA.md fields), or None."""
        return self._record_of(s.residents, "resident_id", resident_id)

    def report(self, missing_id: str) -> dict | None:
        """The stored missing-person report (a dict of SCHEMA.md fields), or None."""
        return self._record_of(s.reports, "missing_id", missing_id)

    def candidate(self, resident_id: str, missing_id: str) -> dict | None:
        """One pair's stored score, with ``weights`` and ``levels`` dicts, its current decision
        (``decision``, ``reason``, ``reviewer``, ``decided_at`` and that row's ``decision_id``) and
        ``members``: the other reports of the person the pair stands for (``cluster_members``
        without this pair's report; empty when it stands for one report) and ``evidence``: the
        comparisons the run read from one of those members, as comparison → missing_id."""
        columns = [c for c in s.candidates.c if c.name not in _CLUSTER_COLUMNS or self._has("candidates", c.name)]
        query = (select(*columns, self._current().c.decision, self._current().c.reason,
                        self._current().c.reviewer, self._current().c.decided_at,
                        self._current().c.id.label("decision_id"),
                        *(self._current().c[name] for name in SEEN_COLUMNS))
                 .select_from(self._with_current())
                 .where(s.candidates.c.resident_id == str(resident_id), s.candidates.c.missing_id == str(missing_id)))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out.setdefault("cluster_id", None)
        out.setdefault("cluster_members", None)
        out["members"] = [m for m in (out["cluster_members"] or "").split(";") if m and m != str(missing_id)]
        out["evidence"] = _evidence(out.setdefault("cluster_evidence", None), out["members"])
        out["weights"] = json.loads(out.pop("weights_json") or "{}")
        levels = out.pop("levels_json")
        out["levels"] = json.loads(levels) if levels else None
        return out

    def run_settings(self, run_id: str | None = None):
        """The :class:`~kinmatch.match.settings.LinkSettings` a loaded run was linked with (the
        latest run's when ``run_id`` is None); the defaults when the run recorded none."""
        from kinmatch.match.settings import LinkSettings

        query = select(s.runs.c.settings_json)
        query = (query.where(s.runs.c.run_id == str(run_id)) if run_id is not None
                 else query.order_by(s.runs.c.loaded_at.desc()).limit(1))
        if not self._has("runs"):
            return LinkSettings()
        with self.engine.connect() as conn:
            stored = conn.execute(query).scalar()
        return LinkSettings.from_json(stored) if stored else LinkSettings()

    # ---- the case around a match -----------------------------------------------------------

    def add_event(self, resident_id: str, event: str, recorded_by: str, *, missing_id: str | None = None,
                  event_date: dt.datetime | dt.date | None = None, detail: Mapping[str, Any] | None = None) -> int:
        """Append one event to a resident's case (``event`` one of
        :data:`~kinmatch.review.schema.CASE_EVENTS`; ``event_date`` when it happened, default now);
        returns its id. The log is append-only: a correction is a new event."""
        if event not in s.CASE_EVENTS:
            raise StoreError(f"unknown case event {event!r}; use one of {', '.join(s.CASE_EVENTS)}")
        when = event_date if event_date is not None else _now()
        if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
            when = dt.datetime(when.year, when.month, when.day, tzinfo=dt.timezone.utc)
        elif when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        with self.engine.begin() as conn:
            result = conn.execute(s.case_events.insert().values(
                resident_id=str(resident_id), missing_id=None if missing_id is None else str(missing_id),
                event=event, event_date=when, detail=None if detail is None else json.dumps(detail, ensure_ascii=False),
                recorded_by=recorded_by, recorded_at=_now()))
            return int(result.inserted_primary_key[0])

    def events(self, resident_id: str | None = None) -> pd.DataFrame:
        """The case events (of one resident, or all), oldest first, ``detail`` parsed."""
        query = select(s.case_events).order_by(s.case_events.c.id)
        if resident_id is not None:
            query = query.where(s.case_events.c.resident_id == str(resident_id))
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in s.case_events.c])
        frame["detail"] = [json.loads(d) if d else None for d in frame["detail"]]
        return frame

    def case_state(self, resident_id: str) -> dict:
        """The resident's case now, from the event log and the decisions (see
        :mod:`kinmatch.review.lifecycle`): ``stage`` and ``stage_label``, the confirmed report
        (``missing_id``), ``second_confirmed``, ``dna_requested`` (date), ``dna_result`` (``match`` /
        ``no_match``) and its date, ``reunited`` (bool; the public notice of a reunited resident is
        the withdrawn version) and ``reunited_date``, ``placed``, the notice dates. Dates are
        Beijing dates."""
        from kinmatch.review.lifecycle import case_state

        current = self.current_decisions()
        current = current[current["resident_id"] == str(resident_id)]
        return case_state(str(resident_id), current, self.events(resident_id))

    def case_states(self) -> pd.DataFrame:
        """:meth:`case_state` of every resident with a decision or an event, one row each."""
        from kinmatch.review.lifecycle import case_state

        current = self.current_decisions()
        events = self.events()
        ids = sorted(set(current["resident_id"]) | set(events["resident_id"]))
        rows = [case_state(r, current[current["resident_id"] == r], events[events["resident_id"] == r])
                for r in ids]
        return pd.DataFrame(rows)

    def second_confirm(self, resident_id: str, missing_id: str, reviewer: str, note: str | None = None) -> int:
        """A second reviewer confirms the pair's 同一人: the case then counts as confirmed.

        Refused (:class:`StoreError`) unless the pair's current decision is 同一人, by another
        account than the one who decided it, and not yet second-confirmed."""
        state = self.case_state(resident_id)
        if state["missing_id"] != str(missing_id):
            raise StoreError(f"{resident_id} × {missing_id} 当前不是“同一人”结论，无需二次确认；"
                             f"请先在比对页确认同一人。")
        if state["confirmed_by"] == reviewer:
            raise StoreError(f"二次确认须由另一位审核人完成（{reviewer} 已作出同一人结论）；请同事登录后确认。")
        if state["second_confirmed"]:
            raise StoreError(f"{resident_id} × {missing_id} 已由 {state['second_by']} 二次确认。")
        return self.add_event(resident_id, "second_confirmed", reviewer, missing_id=missing_id,
                              detail={"note": note} if note else None)

    def advance_case(self, resident_id: str, event: str, recorded_by: str, *,
                     event_date: dt.datetime | dt.date | None = None, detail: Mapping[str, Any] | None = None,
                     today: dt.date | None = None) -> int:
        """Record one lifecycle step (``dna_requested``, ``dna_match``, ``dna_no_match``,
        ``reunited``, ``placed``) after checking it follows the case so far; returns the event id.

        ``dna_no_match`` also excludes the pair (非同一人, reason DNA排除), so the resident's other
        candidates return to the queue. A step that does not follow (a DNA result without a
        request, a placement before three months) is a :class:`StoreError` saying what is missing.
        """
        from kinmatch.review.lifecycle import STEPS, check_step

        if event not in STEPS:
            raise StoreError(f"{event!r} 不是案件进程的步骤；可用：{'、'.join(s.CASE_EVENTS[e] for e in STEPS)}")
        state = self.case_state(resident_id)
        placement_due = False
        if event == "placed":
            table = self.case_deadlines(resident_id, today=today)
            placement = table[table["deadline"] == "placement"]
            placement_due = bool(len(placement)) and placement["status"].iloc[0] in ("due", "overdue", "done")
        problem = check_step(state, event, placement_due)
        if problem:
            raise StoreError(problem)
        missing_id = state["missing_id"] if event != "placed" else None
        event_id = self.add_event(resident_id, event, recorded_by, missing_id=missing_id, event_date=event_date,
                                  detail=detail)
        if event == "dna_no_match":
            self.decide(resident_id, missing_id, "not_same", recorded_by, reason="DNA排除")
        return event_id

    def mark_deadline_done(self, resident_id: str, deadline: str, recorded_by: str,
                           event_date: dt.datetime | dt.date | None = None) -> int:
        """Mark one of the resident's deadlines (:data:`kinmatch.deadlines.DEADLINE_LABELS`) done."""
        from kinmatch.deadlines import DEADLINE_LABELS

        if deadline not in DEADLINE_LABELS:
            raise StoreError(f"没有时限事项 {deadline!r}；可用：{'、'.join(DEADLINE_LABELS)}")
        return self.add_event(resident_id, "deadline_done", recorded_by, event_date=event_date,
                              detail={"deadline": deadline})

    def case_deadlines(self, resident_id: str | None = None, today: Any = None) -> pd.DataFrame:
        """The deadlines (:func:`kinmatch.deadlines.deadlines` columns) of one resident or all,
        judged at ``today`` (default: today in Beijing), with the done dates the events give."""
        from kinmatch.deadlines import DEADLINE_COLUMNS, deadlines
        from kinmatch.review.lifecycle import beijing_today, deadline_record

        query = select(s.residents.c.resident_id, s.residents.c.record_json)
        if resident_id is not None:
            query = query.where(s.residents.c.resident_id == str(resident_id))
        with self.engine.connect() as conn:
            records = [json.loads(r[1]) for r in conn.execute(query)]
        if not records:
            return pd.DataFrame(columns=DEADLINE_COLUMNS)
        events = self.events(resident_id)
        by_resident = {k: g for k, g in events.groupby("resident_id")}
        empty = events.iloc[0:0]
        frame = pd.DataFrame([deadline_record(r, by_resident.get(str(r.get("resident_id")), empty))
                              for r in records])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the calendar note is the CLI's to give
            return deadlines(frame, today=today or beijing_today()).frame

    def overdue_deadlines(self, today: Any = None) -> pd.DataFrame:
        """Every resident's overdue deadlines (oldest due first).

        Kept until the day, the records or the events change: the start page asks on every
        visit, and judging every resident's deadlines takes about a millisecond per resident."""
        from kinmatch.review.lifecycle import beijing_today

        with self.engine.connect() as conn:
            key = (str(today or beijing_today()),
                   conn.execute(select(func.max(s.case_events.c.id))).scalar(),
                   *conn.execute(select(func.count(), func.max(s.residents.c.updated_at))
                                 .select_from(s.residents)).one())
        cached = getattr(self, "_overdue", None)
        if cached is not None and cached[0] == key:
            return cached[1].copy()
        table = self.case_deadlines(today=today)
        table = table[table["status"] == "overdue"].sort_values(["due_date", "resident_id"]).reset_index(drop=True)
        self._overdue = (key, table)
        return table.copy()

    def comment(self, resident_id: str, missing_id: str | None, author: str, text_: str) -> int:
        """A comment on a pair (or on the case when ``missing_id`` is None)."""
        text_ = (text_ or "").strip()
        if not text_:
            raise StoreError("备注为空，未保存；请写下要说明的内容。")
        return self.add_event(resident_id, "comment", author, missing_id=missing_id, detail={"text": text_[:2000]})

    def assign(self, resident_id: str, missing_id: str, assignee: str, assigned_by: str) -> int:
        """Assign a pair to a reviewer (an empty ``assignee`` takes the assignment back)."""
        if assignee and self.user(assignee) is None:
            raise StoreError(f"没有用户 {assignee!r}；请从列表中选择审核人。")
        return self.add_event(resident_id, "assigned", assigned_by, missing_id=missing_id,
                              detail={"to": assignee or None})

    def assignments(self) -> dict[tuple[str, str], str]:
        """``(resident_id, missing_id)`` → the reviewer the pair is assigned to now."""
        events = self.events()
        out: dict[tuple[str, str], str] = {}
        for row in events[events["event"] == "assigned"].to_dict("records"):
            key = (row["resident_id"], row["missing_id"])
            to = (row["detail"] or {}).get("to")
            if to:
                out[key] = to
            else:
                out.pop(key, None)
        return out

    def derived_exclusions(self, resident_id: str | None = None) -> pd.DataFrame:
        """Pairs out of the queue because another report of the same resident is confirmed
        同一人: resident_id, missing_id, confirmed (the confirmed report), reason.

        Derived, not recorded: when the confirmation is withdrawn (a later decision, a DNA
        exclusion), the pairs return to the queue by themselves."""
        current = self.current_decisions()
        same = current[current["decision"] == "same"]
        if resident_id is not None:
            same = same[same["resident_id"] == str(resident_id)]
        confirmed = dict(zip(same["resident_id"], same["missing_id"], strict=True))
        rows = []
        decided = set(zip(current["resident_id"], current["missing_id"], strict=True))
        for resident, kept in sorted(confirmed.items()):
            others = self.candidates_of("resident", resident)
            for missing in others["missing_id"]:
                if missing != kept and (resident, missing) not in decided:
                    rows.append({"resident_id": resident, "missing_id": missing, "confirmed": kept,
                                 "reason": f"已确认 {kept} 为同一人"})
        return pd.DataFrame(rows, columns=["resident_id", "missing_id", "confirmed", "reason"])

    def report_groups(self) -> dict[str, list[str]]:
        """Reports that may be the same person reported twice, as missing_id → the ids of its
        group (itself included; only groups of two or more): same sex, same birth year and a
        name that sounds the same."""
        from kinmatch.normalize.phonetics import name_keys

        with self.engine.connect() as conn:
            rows = conn.execute(select(s.reports.c.missing_id, s.reports.c.record_json)).all()
        blocks: dict[tuple, list[tuple[str, set]]] = {}
        for missing_id, record_json in rows:
            record = json.loads(record_json)
            year = re.search(r"(19|20)\d{2}", str(record.get("birth_date") or ""))
            sex = str(record.get("sex") or "").strip()[:1]
            name = str(record.get("name") or "").strip()
            if not (year and sex in ("男", "女") and name):
                continue
            try:
                keys = set(name_keys(name))
            except Exception:  # a name phonetics cannot read groups with nothing
                continue
            blocks.setdefault((sex, year.group()), []).append((missing_id, keys))
        groups: dict[str, list[str]] = {}
        def root(parent: dict[str, str], m: str) -> str:
            while parent[m] != m:
                m = parent[m]
            return m

        for members in blocks.values():
            parent = {m: m for m, _ in members}  # union-find over shared sound keys
            for i, (a, keys_a) in enumerate(members):
                for b, keys_b in members[i + 1:]:
                    if keys_a & keys_b:
                        parent[root(parent, b)] = root(parent, a)
            joined: dict[str, list[str]] = {}
            for m, _ in members:
                joined.setdefault(root(parent, m), []).append(m)
            for ids in joined.values():
                if len(ids) > 1:
                    for m in ids:
                        groups[m] = sorted(ids)
        return groups

    def report_clusters(self) -> dict[str, list[str]]:
        """Reports that a linking run with duplicate reports clustered (``kinmatch link --dedupe``)
        found to be one person, as missing_id → the ids of its cluster (itself included), from
        the stored pairs' ``cluster_members``; where runs disagree, the latest loaded pair's."""
        if not self._has("candidates", "cluster_members"):
            return {}
        query = (select(s.candidates.c.cluster_members).where(s.candidates.c.cluster_members.is_not(None))
                 .order_by(s.candidates.c.loaded_at, s.candidates.c.id))
        with self.engine.connect() as conn:
            texts = list(dict.fromkeys(conn.execute(query).scalars()))
        groups: dict[str, list[str]] = {}
        for text_ in texts:
            members = sorted(m for m in text_.split(";") if m)
            for m in members:
                groups[m] = members
        return groups

    def dismiss_below(self, probability: float, reviewer: str, *, dry_run: bool = False) -> int:
        """Exclude (非同一人) every queued pair below ``probability``; returns how many
        (``dry_run``: only count them, to show the reviewer first)."""
        probability = float(probability)
        if not 0 < probability < 1:
            raise StoreError(f"概率阈值须在 0 与 1 之间（收到 {probability}）。")
        queued = self.queue()
        below = queued[queued["match_probability"] < probability]
        if dry_run:
            return len(below)
        reason = f"批量排除：概率低于 {probability:.0%}"
        for row in below.itertuples(index=False):
            self.decide(row.resident_id, row.missing_id, "not_same", reviewer, reason=reason)
        return len(below)

    def counts(self) -> dict[str, int]:
        """How many records, candidates, decisions, queued pairs and users the store holds."""
        with self.engine.connect() as conn:
            out = {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                   for t in (s.residents, s.reports, s.candidates, s.decisions, s.users)}
        out["queued"] = len(self.queue())
        return out

    # ---- decisions ------------------------------------------------------------------------

    def decide(self, resident_id: str, missing_id: str, decision: str, reviewer: str,
               reason: str | None = None, note: str | None = None, *, based_on: Any = UNCHECKED) -> int:
        """Record a decision on a pair (``same``, ``not_same`` or ``unsure``); returns its id.

        Always a new row: an earlier decision is superseded, never changed, so the audit trail
        shows who decided what and when. ``based_on`` is the id of the decision the reviewer saw
        as current (``None``: the pair was undecided); if another decision has been recorded since,
        nothing is written and :class:`DecisionConflict` says which, so a stale page never
        silently overrides a colleague. Leave it out to record the decision regardless.

        A 同一人 (``same``) also appends the case event ``confirmed`` (its detail names this
        decision's id), in the same transaction: the case's second review and DNA steps follow it.
        """
        if decision not in s.DECISIONS:
            raise StoreError(f"结论 {decision!r} 无效，只能是同一人、非同一人或不确定 / "
                             f"decision {decision!r} is not one of {list(s.DECISIONS)} "
                             f"(same = 同一人, not_same = 非同一人, unsure = 不确定)")
        if not reviewer:
            raise StoreError("结论须记下审核人（审核记录需要）/ "
                             "a decision needs the reviewer's user name, for the audit trail")
        # what this store's schema holds, looked up outside the write transaction (SQLite would lock)
        has_seen, has_events = self._has("decisions", "seen_probability"), self._has("case_events")
        with self.engine.begin() as conn:
            # FOR UPDATE (PostgreSQL) serialises deciders of one pair, so the check below and the
            # insert see the same current decision; SQLite's BEGIN IMMEDIATE already does
            known = conn.execute(select(
                s.candidates.c.id, s.candidates.c.match_probability, s.candidates.c.match_weight,
                s.candidates.c.explanation, s.candidates.c.levels_json, s.candidates.c.model_version,
                s.candidates.c.run_id).where(
                s.candidates.c.resident_id == str(resident_id), s.candidates.c.missing_id == str(missing_id))
                .with_for_update()).mappings().first()
            if known is None:
                raise StoreError(f"{resident_id} × {missing_id} 不是已载入的候选，请先载入提出它的比对结果 / "
                                 f"pair {resident_id} × {missing_id} is not a stored candidate; load the "
                                 f"linking run that proposed it first (kinmatch review load)")
            if based_on is not UNCHECKED:
                current = conn.execute(
                    select(s.decisions).where(s.decisions.c.resident_id == str(resident_id),
                                              s.decisions.c.missing_id == str(missing_id))
                    .order_by(s.decisions.c.id.desc()).limit(1)).mappings().first()
                current_id = None if current is None else int(current["id"])
                expected = None if based_on is None else int(based_on)
                if current_id != expected:
                    raise DecisionConflict(
                        f"pair {resident_id} × {missing_id} was decided by someone else in the meantime "
                        f"(now: {current['decision'] if current else 'undecided'}); look at it again and confirm",
                        None if current is None else dict(current))
            now = _now()
            # the score the reviewer saw is kept with the decision: a later run re-scores the pair,
            # but the letter and the export carry the reasons the decision was taken on
            seen = {}
            if has_seen:
                seen = {"seen_probability": known["match_probability"], "seen_weight": known["match_weight"],
                        "seen_explanation": known["explanation"], "seen_levels_json": known["levels_json"],
                        "seen_model_version": known["model_version"], "seen_run_id": known["run_id"]}
            result = conn.execute(s.decisions.insert().values(
                resident_id=str(resident_id), missing_id=str(missing_id), decision=decision,
                reason=(reason or None), note=(note or None), reviewer=reviewer, decided_at=now, **seen))
            decision_id = int(result.inserted_primary_key[0])
            if decision == "same" and has_events:
                # the case starts here: its second review and DNA steps follow this event
                conn.execute(s.case_events.insert().values(
                    resident_id=str(resident_id), missing_id=str(missing_id), event="confirmed", event_date=now,
                    detail=json.dumps({"decision_id": decision_id}), recorded_by=reviewer, recorded_at=now))
            return decision_id

    def _current(self):
        """Subquery: each decided pair's latest decision row."""
        if not hasattr(self, "_current_sq"):
            self._current_sq = self._current_query().subquery("current_decision")
        return self._current_sq

    @staticmethod
    def _current_query():
        latest = (select(func.max(s.decisions.c.id).label("id"))
                  .group_by(s.decisions.c.resident_id, s.decisions.c.missing_id).subquery())
        return select(s.decisions).join(latest, s.decisions.c.id == latest.c.id)

    def _with_current(self):
        current = self._current()
        return s.candidates.outerjoin(current, and_(current.c.resident_id == s.candidates.c.resident_id,
                                                    current.c.missing_id == s.candidates.c.missing_id))

    def current_decisions(self) -> pd.DataFrame:
        """One row per decided pair: its latest decision (resident_id, missing_id, decision,
        reason, note, reviewer, decided_at, id) and the score the reviewer saw (``seen_*``)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(self._current()).order_by(self._current().c.id)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows],
                            columns=["id", "resident_id", "missing_id", "decision", "reason", "note",
                                     "reviewer", "decided_at", *SEEN_COLUMNS])

    def history(self, resident_id: str | None = None, missing_id: str | None = None) -> pd.DataFrame:
        """Every decision row (oldest first), optionally for one pair: the audit trail."""
        query = select(s.decisions).order_by(s.decisions.c.id)
        if resident_id is not None:
            query = query.where(s.decisions.c.resident_id == str(resident_id))
        if missing_id is not None:
            query = query.where(s.decisions.c.missing_id == str(missing_id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows],
                            columns=["id", "resident_id", "missing_id", "decision", "reason", "note",
                                     "reviewer", "decided_at"])

    # ---- queue ----------------------------------------------------------------------------

    def queue(self, limit: int | None = None, order: str = "probability",
              include_unsure: bool = False) -> pd.DataFrame:
        """Undecided pairs to review, with the ``cluster_members`` a pair stands for (None: one report).

        ``order="probability"``: highest match probability first (the review queue);
        ``order="informative"``: probability closest to 0.5 first, the pairs whose label teaches
        a model most (for labelling rounds). Pairs with a current decision are left out, except
        ``unsure`` ones when ``include_unsure``; excluded pairs (``not_same``) never return.
        """
        current = self._current()
        if order == "probability":
            ordering = [s.candidates.c.match_probability.desc()]
        elif order == "informative":
            ordering = [func.abs(s.candidates.c.match_probability - 0.5)]
        else:
            raise StoreError(f"queue order {order!r}: use 'probability' or 'informative'")
        pending = current.c.decision.is_(None)
        if include_unsure:
            pending = or_(pending, current.c.decision == "unsure")
        # a resident with a confirmed report: the other candidates are out (derived_exclusions)
        confirmed = self._current_query().subquery("confirmed")
        pending = and_(pending, ~exists().where(confirmed.c.resident_id == s.candidates.c.resident_id,
                                                confirmed.c.decision == "same"))
        members = (s.candidates.c.cluster_members if self._has("candidates", "cluster_members")
                   else sa_null().label("cluster_members"))
        query = (select(s.candidates.c.resident_id, s.candidates.c.missing_id, s.candidates.c.rank,
                        s.candidates.c.match_probability, s.candidates.c.match_weight,
                        s.candidates.c.explanation, s.candidates.c.run_id,
                        s.residents.c.name.label("resident_name"), s.reports.c.name.label("report_name"),
                        current.c.decision, members)
                 .select_from(self._with_current()
                              .join(s.residents, s.residents.c.resident_id == s.candidates.c.resident_id)
                              .join(s.reports, s.reports.c.missing_id == s.candidates.c.missing_id))
                 .where(pending)
                 .order_by(*ordering, s.candidates.c.resident_id, s.candidates.c.missing_id))
        if limit is not None:
            query = query.limit(int(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows],
                            columns=["resident_id", "missing_id", "rank", "match_probability", "match_weight",
                                     "explanation", "run_id", "resident_name", "report_name", "decision",
                                     "cluster_members"])

    def neighbours(self, resident_id: str, missing_id: str, order: str = "probability"):
        """``(previous, next)`` queued pairs around this one (each a ``(resident_id, missing_id)`` or None).

        A pair no longer queued (just decided) has as "next" the pair that would now come first
        after its old position, so a reviewer moves on without skipping anyone.
        """
        queued = self.queue(order=order)
        keys = list(zip(queued["resident_id"], queued["missing_id"], strict=True))
        key = (str(resident_id), str(missing_id))
        if key in keys:
            i = keys.index(key)
            return (keys[i - 1] if i > 0 else None), (keys[i + 1] if i + 1 < len(keys) else None)
        me = self.candidate(*key)
        if me is None or not keys:
            return None, (keys[0] if keys else None)
        probability = me["match_probability"]
        if order == "informative":
            score = abs(probability - 0.5)
            after = [k for k, p in zip(keys, queued["match_probability"], strict=True) if abs(p - 0.5) >= score]
            before = [k for k, p in zip(keys, queued["match_probability"], strict=True) if abs(p - 0.5) < score]
        else:
            after = [k for k, p in zip(keys, queued["match_probability"], strict=True) if p <= probability]
            before = [k for k, p in zip(keys, queued["match_probability"], strict=True) if p > probability]
        return (before[-1] if before else None), (after[0] if after else keys[0])

    def candidates_of(self, kind: str, record_id: str) -> pd.DataFrame:
        """The stored candidate pairs of one resident (``kind="resident"``) or report, best first,
        with each pair's current decision."""
        column = s.candidates.c.resident_id if kind == "resident" else s.candidates.c.missing_id
        current = self._current()
        query = (select(s.candidates.c.resident_id, s.candidates.c.missing_id, s.candidates.c.match_probability,
                        s.candidates.c.explanation, current.c.decision)
                 .select_from(self._with_current()).where(column == str(record_id))
                 .order_by(s.candidates.c.match_probability.desc()))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows],
                            columns=["resident_id", "missing_id", "match_probability", "explanation", "decision"])

    # ---- users and access log -------------------------------------------------------------

    def add_user(self, username: str, password: str, role: str = "reviewer") -> None:
        """Create a user (or reset an existing user's password and role).

        The password is stored as a salted hash (werkzeug.security), never as text."""
        from werkzeug.security import generate_password_hash

        if role not in s.ROLES:
            raise StoreError(f"角色 {role!r} 无效，只能是审核员 reviewer 或管理员 admin / role {role!r} is not one of "
                             f"{list(s.ROLES)}")
        if not username or not re.fullmatch(r"[\w.@-]{1,%d}" % USERNAME_MAX, username):
            raise StoreError(f"用户名 {username!r} 无效：请用 1–{USERNAME_MAX} 个字母、数字或 . @ - _ / user name "
                             f"{username!r}: use 1–{USERNAME_MAX} letters, digits, '.', '@', '-' or '_'")
        if not password or len(password) < 8:
            raise StoreError("密码至少 8 个字符 / the password must have at least 8 characters")
        hashed = generate_password_hash(password)
        with self.engine.begin() as conn:
            exists = conn.execute(select(s.users.c.id).where(s.users.c.username == username)).first()
            if exists is None:
                conn.execute(s.users.insert().values(username=username, password_hash=hashed, role=role,
                                                     active=True, created_at=_now(), session_version=0))
            else:  # a password reset: every session of the old password ends
                conn.execute(s.users.update().where(s.users.c.username == username).values(
                    password_hash=hashed, role=role, active=True,
                    session_version=s.users.c.session_version + 1))

    def set_active(self, username: str, active: bool) -> None:
        """Enable or disable an account (disabling also ends its sessions)."""
        with self.engine.begin() as conn:
            conn.execute(s.users.update().where(s.users.c.username == username).values(
                active=bool(active), session_version=s.users.c.session_version + 1))

    def end_sessions(self, username: str) -> None:
        """End every session of ``username`` (logout): sessions carry the version they were
        signed with, and the site refuses any but the current one."""
        with self.engine.begin() as conn:
            conn.execute(s.users.update().where(s.users.c.username == username).values(
                session_version=s.users.c.session_version + 1))

    def authenticate(self, username: str, password: str) -> dict | None:
        """The user's ``{"username", "role", "session_version"}`` if the password is right and the
        user active, else None.

        An unknown user name costs one password hash too (against a dummy hash), so the time a
        refusal takes does not tell which user names exist.
        """
        from werkzeug.security import check_password_hash

        row = None
        if isinstance(username, str) and 0 < len(username) <= USERNAME_MAX:
            with self.engine.connect() as conn:
                row = conn.execute(select(s.users).where(s.users.c.username == username)).mappings().first()
        stored_hash = row["password_hash"] if row is not None else _dummy_hash()
        right = check_password_hash(stored_hash, password or "")
        if row is None or not row["active"] or not right:
            return None
        return {"username": row["username"], "role": row["role"], "session_version": row["session_version"]}

    def user(self, username: str) -> dict | None:
        """``{"username", "role", "active", "session_version"}`` of one user, or None."""
        if not isinstance(username, str) or len(username) > USERNAME_MAX:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(s.users.c.username, s.users.c.role, s.users.c.active,
                                      s.users.c.session_version)
                               .where(s.users.c.username == username)).mappings().first()
        return None if row is None else dict(row)

    def users(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.users.c.username, s.users.c.role, s.users.c.active, s.users.c.created_at)
                                .order_by(s.users.c.username)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=["username", "role", "active", "created_at"])

    def log_access(self, username: str, action: str, record_kind: str | None = None,
                   record_id: str | None = None, detail: str | None = None) -> None:
        """Append one row to the access log (who saw which record, when).

        Each field is cut to a fixed length (``…`` marks a cut): a user name typed at the login
        page is logged before anyone is authenticated, and must not grow the store at will."""
        values = {"username": username, "action": action, "record_kind": record_kind, "record_id": record_id,
                  "detail": detail}
        values = {k: _truncated(v, _LOG_LIMITS[k]) for k, v in values.items()}
        with self.engine.begin() as conn:
            conn.execute(s.access_log.insert().values(**values, at=_now()))

    def access_log(self, username: str | None = None) -> pd.DataFrame:
        query = select(s.access_log).order_by(s.access_log.c.id)
        if username is not None:
            query = query.where(s.access_log.c.username == username)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows],
                            columns=["id", "username", "action", "record_kind", "record_id", "detail", "at"])

    # ---- search ---------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> pd.DataFrame:
        """Residents and reports whose name (or alias) *sounds* like ``query``, or whose name
        contains it, or whose id is it, or whose surname is ``query`` in pinyin (``chen``), or whose
        place (found or missing place, hometown, statements) contains it (``上海``): columns kind
        (resident/report), record_id, name, place (the place field that matched, if that was the hit).

        Sound keys are the phonetic keys of :func:`kinmatch.normalize.phonetics.name_keys`
        (heteronyms, dialect mergers), so 胡春花 finds 吴春花.
        """
        query = (query or "").strip()
        if not query:
            return pd.DataFrame(columns=["kind", "record_id", "name", "place"])
        keys = [k for k in _name_keys(query, None).strip("|").split("|") if k]
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        surname = query.lower() if re.fullmatch(r"[A-Za-z]{1,8}", query) else None
        out = []
        with self.engine.connect() as conn:
            for kind, table, id_column in (("resident", s.residents, "resident_id"),
                                           ("report", s.reports, "missing_id")):
                conditions = [table.c[id_column] == query, table.c.name.like(f"%{escaped}%", escape="\\")]
                conditions += [table.c.name_keys.like(f"%|{key}|%") for key in keys[:40]]
                if surname:  # a surname typed in pinyin: "chen" finds 陈建国 (keys "|chen jian guo|")
                    conditions.append(table.c.name_keys.like(f"%|{surname} %"))
                rows = conn.execute(select(table.c[id_column], table.c.name).where(or_(*conditions))
                                    .order_by(table.c[id_column]).limit(int(limit))).all()
                out += [{"kind": kind, "record_id": r[0], "name": r[1], "place": ""} for r in rows]
                found = {r[0] for r in rows}
                if len(query) >= 2 and not surname:
                    # a place: the text is searched in the record, then kept only where a place field holds it
                    # (never a hit on a family's contact or address details)
                    fields = _PLACE_FIELDS[kind]
                    near = conn.execute(select(table.c[id_column], table.c.name, table.c.record_json)
                                        .where(table.c.record_json.like(f"%{escaped}%", escape="\\"))
                                        .order_by(table.c[id_column]).limit(int(limit) * 4)).all()
                    for record_id, name, record_json in near:
                        record = json.loads(record_json)
                        place = next((str(record[f]) for f in fields if query in str(record.get(f) or "")), None)
                        if place and record_id not in found:
                            out.append({"kind": kind, "record_id": record_id, "name": name, "place": place})
        return pd.DataFrame(out[:int(limit) * 2], columns=["kind", "record_id", "name", "place"])


_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    """A password hash made like the real ones (same method and cost), checked for unknown users."""
    if not _DUMMY_HASH:
        from werkzeug.security import generate_password_hash

        _DUMMY_HASH.append(generate_password_hash(secrets.token_hex(16)))
    return _DUMMY_HASH[0]


def _settings_dict(settings: Any) -> dict:
    from kinmatch.match.settings import resolve_settings

    return resolve_settings(settings).to_dict()


def _evidence(text: Any, members: Any) -> dict[str, str]:
    """A pair's ``cluster_evidence`` (``<comparison>=<missing_id>;…``) as comparison → missing_id,
    keeping only the reports among ``members`` (the other reports of its cluster).

        >>> _evidence("marks=M7;age=M=8;hair=M2;bad", ["M7", "M=8"]), _evidence(None, ["M7"])
        ({'marks': 'M7', 'age': 'M=8'}, {})
    """
    if text is None or pd.isna(text):
        return {}
    parts = (part.partition("=") for part in str(text).split(";"))
    return {name: member for name, sep, member in parts if name and sep and member in members}


def _pair_evidence(candidates: pd.DataFrame) -> dict[tuple[str, str], dict[str, str]]:
    """Per candidate pair (resident_id, missing_id) that read comparisons from other reports of its
    cluster, :func:`_evidence` of its ``cluster_evidence`` (empty without the column)."""
    if "cluster_evidence" not in candidates.columns or "cluster_members" not in candidates.columns:
        return {}
    out = {}
    for r, m, written, members in zip(candidates["resident_id"], candidates["missing_id"],
                                      candidates["cluster_evidence"], candidates["cluster_members"], strict=True):
        others = [x for x in str(members).split(";") if x != str(m)] if isinstance(members, str) else []
        found = _evidence(written, others)
        if found:
            out[(str(r), str(m))] = found
    return out


def _levels_from_members(levels: pd.DataFrame, evidence: dict[tuple[str, str], dict[str, str]],
                         against: pd.DataFrame) -> pd.DataFrame:
    """``levels`` with each comparison a pair read from another member of its cluster
    (``evidence``, :func:`_pair_evidence`) taken from that member's levels in ``against`` (indexed
    by resident_id, missing_id), as the linking run scored it. A member without levels there (its
    record not loaded) leaves the pair's own level."""
    against = against.set_axis(pd.MultiIndex.from_tuples([(str(r), str(m)) for r, m in against.index]))
    out = levels.copy()
    rows = {(str(r), str(m)): i for i, (r, m) in enumerate(out.index)}
    for key, found in evidence.items():
        for name, member in found.items():
            if key in rows and name in out.columns and (key[0], member) in against.index:
                out.iloc[rows[key], out.columns.get_loc(name)] = against.at[(key[0], member), name]
    return out


def _comparison_levels(candidates: pd.DataFrame, residents: pd.DataFrame, missing: pd.DataFrame,
                       settings: Any = None) -> pd.DataFrame | None:
    """The comparison levels of the candidate pairs, computed as ``kinmatch link`` does."""
    from kinmatch.match import engine
    from kinmatch.normalize import records

    try:
        residents = residents.copy()
        missing = missing.copy()
        residents["resident_id"] = residents["resident_id"].astype(str)
        missing["missing_id"] = missing["missing_id"].astype(str)
        if "sex_code" not in residents.columns:
            residents, _ = records.normalize_residents(residents)
        if "sex_code" not in missing.columns:
            missing, _ = records.normalize_missing(missing)
        pairs = candidates[["resident_id", "missing_id"]]
        pairs = pairs[pairs["resident_id"].isin(set(residents["resident_id"]))
                      & pairs["missing_id"].isin(set(missing["missing_id"]))]
        from kinmatch.match.settings import resolve_settings

        return engine.compare_pairs(pairs, residents, missing, resolve_settings(settings).comparisons)
    except Exception as error:  # levels only feed training: loading the pairs must not fail on them
        warnings.warn(f"comparison levels could not be computed ({error}); the pairs are stored without "
                      f"them and `kinmatch train` will skip them", stacklevel=3)
        return None
