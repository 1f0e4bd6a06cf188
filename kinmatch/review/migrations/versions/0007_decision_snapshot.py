"""A decision records what the reviewer saw when deciding: the pair's probability, weight,
explanation, comparison levels, model version and run at that moment. A later run re-scores the
pair, but a match-lead letter and the review export carry the reasons the reviewer decided on.

Columns are added in place (``ADD COLUMN``, no table copy), so the append-only triggers of 0002 and
0003 stay attached; existing decisions keep these columns empty (the export then falls back to the
pair's current score).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = (("seen_probability", sa.Float), ("seen_weight", sa.Float), ("seen_explanation", sa.Text),
           ("seen_levels_json", sa.Text), ("seen_model_version", sa.String(128)), ("seen_run_id", sa.String(128)))


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("decisions", sa.Column(name, kind))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
