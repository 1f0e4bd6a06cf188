"""The case store's tables (SQLAlchemy Core), shared by the store and its Alembic migrations.

One table per concern: ``residents`` and ``reports`` keep each record as JSON text (the canonical
columns of SCHEMA.md) beside the few columns search needs; ``candidates`` holds the latest score of
every pair any linking run proposed; ``decisions`` is **append-only** (a later decision supersedes,
never erases: the current decision of a pair is its row with the highest id); ``users`` and
``access_log`` are the audit side; ``settings`` keeps per-store values such as the session key.
"""

from __future__ import annotations

from sqlalchemy import (
                        Boolean,
                        Column,
                        DateTime,
                        Float,
                        ForeignKey,
                        Index,
                        Integer,
                        MetaData,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
)

metadata = MetaData()

DECISIONS = ("same", "not_same", "unsure")
"""Decision codes: 同一人 (send to DNA verification), 非同一人 (excluded), 不确定."""

ROLES = ("reviewer", "admin")

residents = Table(
    "residents", metadata,
    Column("resident_id", String(128), primary_key=True),
    Column("name", Text),
    Column("name_keys", Text, nullable=False, default=""),  # "|li wei|lee wai|": LIKE '%|key|%'
    Column("record_json", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

reports = Table(
    "reports", metadata,
    Column("missing_id", String(128), primary_key=True),
    Column("name", Text),
    Column("name_keys", Text, nullable=False, default=""),
    Column("record_json", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

candidates = Table(
    "candidates", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resident_id", String(128), ForeignKey("residents.resident_id"), nullable=False),
    Column("missing_id", String(128), ForeignKey("reports.missing_id"), nullable=False),
    Column("run_id", String(128), nullable=False),
    Column("model_version", String(128)),
    Column("rank", Integer),
    Column("match_probability", Float, nullable=False),
    Column("match_weight", Float),
    Column("explanation", Text),
    Column("weights_json", Text),
    Column("levels_json", Text),
    Column("first_run_id", String(128), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    # the reports of one person this pair stands for (migration 0008; `kinmatch link --dedupe`)
    Column("cluster_id", String(128)),
    Column("cluster_members", Text),  # "M1;M2;M3"
    # the comparisons read from another member: "marks=M2;age=M3" (migration 0009)
    Column("cluster_evidence", Text),
    UniqueConstraint("resident_id", "missing_id", name="uq_candidates_pair"),
)
Index("ix_candidates_probability", candidates.c.match_probability)

runs = Table(
    "runs", metadata,
    Column("run_id", String(128), primary_key=True),
    Column("model_version", String(128)),
    Column("settings_json", Text),  # the run's LinkSettings as JSON; None for runs loaded from a file alone
    Column("n_candidates", Integer, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
)

CASE_EVENTS = {
    "confirmed": "确认同一人", "second_confirmed": "二次确认", "letter_sent": "发出比对线索函",
    "dna_requested": "申请DNA比对", "dna_match": "DNA比对一致", "dna_no_match": "DNA比对排除",
    "reunited": "已返乡", "placed": "落户安置", "notice_published": "发布寻亲公告",
    "notice_refreshed": "更新寻亲公告", "deadline_done": "时限事项已办", "comment": "备注",
    "assigned": "分派审核人", "referred": "转交省级工作室",
}
"""Events of a case (``case_events.event``) and their Chinese names."""

case_events = Table(
    "case_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resident_id", String(128), nullable=False),
    Column("missing_id", String(128)),  # the report the event concerns, if any
    Column("event", String(32), nullable=False),
    Column("event_date", DateTime(timezone=True), nullable=False),  # when it happened (may be before recorded_at)
    Column("detail", Text),  # JSON: e.g. {"deadline": "dna"} for deadline_done, the DNA lab's reference
    Column("recorded_by", String(128), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index("ix_case_events_resident", case_events.c.resident_id, case_events.c.id)

decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resident_id", String(128), nullable=False),
    Column("missing_id", String(128), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason", Text),
    Column("note", Text),
    Column("reviewer", String(128), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    # what the reviewer saw when deciding (migration 0007): the pair's score at that moment
    Column("seen_probability", Float),
    Column("seen_weight", Float),
    Column("seen_explanation", Text),
    Column("seen_levels_json", Text),
    Column("seen_model_version", String(128)),
    Column("seen_run_id", String(128)),
)
Index("ix_decisions_pair", decisions.c.resident_id, decisions.c.missing_id, decisions.c.id)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(128), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # raised by logout and password reset: a session signed with an older version is refused
    Column("session_version", Integer, nullable=False, default=0, server_default="0"),
)

access_log = Table(
    "access_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("record_kind", String(16)),
    Column("record_id", String(128)),
    Column("detail", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)

settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
