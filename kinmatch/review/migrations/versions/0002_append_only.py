"""Decisions and the access log are append-only in the database itself.

The store's API only ever inserts into them; these triggers make any UPDATE or DELETE (a
hand-written SQL fix, another tool) fail too, so the audit trail cannot be rewritten quietly.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("decisions", "access_log")
MESSAGE = ("{table} is append-only: record a new row (a later decision supersedes an earlier one) "
           "instead of changing or deleting one")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        message = MESSAGE.format(table=table)
        if dialect == "sqlite":
            for event in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
        elif dialect == "postgresql":
            op.execute(f"CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$ BEGIN "
                       f"RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql")
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
