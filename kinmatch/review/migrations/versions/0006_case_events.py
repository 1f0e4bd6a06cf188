"""The case around a match, as an append-only log of events per resident (issue 15).

Each row says that something happened to a resident's case on a date: a candidate confirmed and
confirmed again by a second reviewer, a match-lead letter sent, a DNA sample requested, a DNA
result, a reunion, a placement, a notice published or refreshed, a deadline marked done, a comment
or an assignment. The state of a case and its deadlines are computed from the log; a correction is
a new event, never a changed one, so the log is append-only in the database as decisions are
(the triggers of 0002 and 0003).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MESSAGE = ("case_events is append-only: record a new event (a later event supersedes an earlier one) "
           "instead of replacing, changing or deleting one")


def upgrade() -> None:
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resident_id", sa.String(128), nullable=False),
        sa.Column("missing_id", sa.String(128)),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("event_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_events_resident", "case_events", ["resident_id", "id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER case_events_no_{event.lower()} BEFORE {event} ON case_events "
                       f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
        op.execute("CREATE TRIGGER case_events_no_replace BEFORE INSERT ON case_events "
                   "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM case_events WHERE id = NEW.id) "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
    elif dialect == "postgresql":
        op.execute("CREATE FUNCTION case_events_append_only() RETURNS trigger AS $$ BEGIN "
                   f"RAISE EXCEPTION '{MESSAGE}'; END; $$ LANGUAGE plpgsql")
        op.execute("CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events "
                   "FOR EACH ROW EXECUTE FUNCTION case_events_append_only()")
        op.execute("CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_truncate ON case_events")
        op.execute("DROP TRIGGER IF EXISTS case_events_append_only ON case_events")
        op.execute("DROP FUNCTION IF EXISTS case_events_append_only()")
    op.drop_index("ix_case_events_resident", "case_events")
    op.drop_table("case_events")
