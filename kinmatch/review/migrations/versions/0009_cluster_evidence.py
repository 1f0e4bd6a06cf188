"""A pair that stands for several reports of one person keeps which comparisons it read from which
member report (``cluster_evidence``, ``<comparison>=<missing_id>;…``, as the linking table gives it),
so the review page shows the value the score used, beside the report it came from.

The column is added in place (``ADD COLUMN``, no table copy); pairs of existing stores, and of runs
linked without ``--dedupe``, keep it empty.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("candidates", sa.Column("cluster_evidence", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("cluster_evidence")
