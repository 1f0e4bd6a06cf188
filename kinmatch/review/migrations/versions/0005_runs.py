"""Each loaded linking run is recorded with the LinkSettings it ran with (comparisons, passes, u
estimation, term frequencies as readable JSON), so the review page shows a pair through the
comparisons that scored it and an auditor can read what a run was configured with.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(128), primary_key=True),
        sa.Column("model_version", sa.String(128)),
        sa.Column("settings_json", sa.Text),
        sa.Column("n_candidates", sa.Integer, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("runs")
