"""kpis and learnflow: site KPI settings, stop events, the maintenance log, alert reviews, pathway adoptions,
closed KPI periods, learning offers

Revision ID: 0010_kpis
Revises: 0004
Create Date: 2026-12-02 03:30:00

A closed KPI period is also a ledger entry (kind ``kpi``); the row keeps the published figures and the
entry's hash.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010_kpis"
down_revision: Union[str, Sequence[str], None] = "0009_handover"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "kpi_site_settings",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("baseline_start", _tz(), nullable=True),
        sa.Column("baseline_end", _tz(), nullable=True),
        sa.Column("engineered", sa.JSON(), nullable=False),
        sa.Column("operating_hours_per_week", sa.Float(), nullable=False),
        sa.Column("registered_at", _tz(), nullable=True),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id"),
    )
    op.create_table(
        "stop_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("start", _tz(), nullable=False),
        sa.Column("end", _tz(), nullable=True),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("logged_by", sa.Integer(), nullable=False),
        sa.Column("logged_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["logged_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stop_events_asset_id", "stop_events", ["asset_id"])
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("opened_at", _tz(), nullable=False),
        sa.Column("closed_at", _tz(), nullable=True),
        sa.Column("fault", sa.String(length=64), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("fixed_first_time", sa.Boolean(), nullable=True),
        sa.Column("stop_id", sa.Integer(), nullable=True),
        sa.Column("alert_ts", sa.BigInteger(), nullable=True),
        sa.Column("logged_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["stop_id"], ["stop_events.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["logged_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_work_orders_asset_id", "work_orders", ["asset_id"])
    op.create_table(
        "alert_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("alert_ts", sa.BigInteger(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("finding", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewed_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("asset_id", "alert_ts", name="uq_alert_review"),
    )
    op.create_index("ix_alert_reviews_asset_id", "alert_reviews", ["asset_id"])
    op.create_table(
        "pathway_adoptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("adopted_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "job_id", name="uq_pathway_adoption"),
    )
    op.create_index("ix_pathway_adoptions_user_id", "pathway_adoptions", ["user_id"])
    op.create_table(
        "kpi_closes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("closed_by", sa.Integer(), nullable=False),
        sa.Column("closed_at", _tz(), nullable=False),
        sa.Column("ledger_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["closed_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "period", name="uq_kpi_close"),
    )
    op.create_table(
        "learning_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("event_kind", sa.String(length=8), nullable=False),
        sa.Column("event_ts", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("offered_at", _tz(), nullable=False),
        sa.Column("opened_at", _tz(), nullable=True),
        sa.Column("completed_at", _tz(), nullable=True),
        sa.Column("follow_up_skill", sa.String(length=64), nullable=False),
        sa.Column("follow_up_level", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "site", "asset", "event_kind", "event_ts", name="uq_learning_offer"),
    )
    op.create_index("ix_learning_offers_user_id", "learning_offers", ["user_id"])
    op.create_index("ix_learning_offers_site", "learning_offers", ["site"])


def downgrade() -> None:
    """Downgrade schema."""
    for table in ("learning_offers", "kpi_closes", "pathway_adoptions", "alert_reviews", "work_orders",
                  "stop_events", "kpi_site_settings"):
        op.drop_table(table)
