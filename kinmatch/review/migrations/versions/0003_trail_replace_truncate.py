"""Close the two ways around the append-only triggers of 0002.

SQLite: ``INSERT OR REPLACE`` (and ``REPLACE INTO``) with an existing id deletes the old row
without firing its DELETE trigger (SQLite fires delete triggers on REPLACE only under
``PRAGMA recursive_triggers``, which a hand-opened connection does not set). A BEFORE INSERT
trigger refuses any insert whose id is already taken, so the REPLACE never reaches the delete.
PostgreSQL: ``TRUNCATE`` fires no row triggers; a BEFORE TRUNCATE statement trigger refuses it.

What remains possible is changing the schema itself (dropping a trigger or the table, or
``ALTER TABLE ... DISABLE TRIGGER``), which needs the tables' owner: on PostgreSQL run the site
as a role that does not own them; on SQLite anyone who may write the file may rewrite it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("decisions", "access_log")
MESSAGE = ("{table} is append-only: record a new row (a later decision supersedes an earlier one) "
           "instead of replacing, changing or deleting one")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        message = MESSAGE.format(table=table)
        if dialect == "sqlite":
            op.execute(f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                       f"WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
                       f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
        elif dialect == "postgresql":
            op.execute(f"CREATE FUNCTION {table}_no_truncate() RETURNS trigger AS $$ BEGIN "
                       f"RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_no_truncate()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_no_truncate()")
