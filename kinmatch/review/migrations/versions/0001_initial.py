"""Initial case store: residents, reports, candidates, decisions, users, access log, settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Written out rather than generated from kinmatch.review.schema, so this migration keeps meaning
# what it meant when later revisions change the schema module.


def upgrade() -> None:
    op.create_table(
        "residents",
        sa.Column("resident_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("name_keys", sa.Text, nullable=False, server_default=""),
        sa.Column("record_json", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column("missing_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("name_keys", sa.Text, nullable=False, server_default=""),
        sa.Column("record_json", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resident_id", sa.String(128), sa.ForeignKey("residents.resident_id"), nullable=False),
        sa.Column("missing_id", sa.String(128), sa.ForeignKey("reports.missing_id"), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128)),
        sa.Column("rank", sa.Integer),
        sa.Column("match_probability", sa.Float, nullable=False),
        sa.Column("match_weight", sa.Float),
        sa.Column("explanation", sa.Text),
        sa.Column("weights_json", sa.Text),
        sa.Column("levels_json", sa.Text),
        sa.Column("first_run_id", sa.String(128), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("resident_id", "missing_id", name="uq_candidates_pair"),
    )
    op.create_index("ix_candidates_probability", "candidates", ["match_probability"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resident_id", sa.String(128), nullable=False),
        sa.Column("missing_id", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_decisions_pair", "decisions", ["resident_id", "missing_id", "id"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(128), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("record_kind", sa.String(16)),
        sa.Column("record_id", sa.String(128)),
        sa.Column("detail", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("settings", "access_log", "users", "decisions", "candidates", "reports", "residents"):
        op.drop_table(table)
