"""A candidate can stand for several reports of one person (``kinmatch link --dedupe``): the
pair's ``cluster_id`` and ``cluster_members`` (the member report ids, ``;``-separated), as the
linking table gives them.

Columns are added in place (``ADD COLUMN``, no table copy); the pairs of existing stores keep them
empty, as do the pairs of runs linked without ``--dedupe``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = (("cluster_id", sa.String(128)), ("cluster_members", sa.Text))


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("candidates", sa.Column(name, kind))


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
