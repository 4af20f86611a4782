"""onboarding: starter kits with their broker users, one onboarding record per site, asset nameplates

Revision ID: 0008_onboarding
Revises: 0004
Create Date: 2026-12-02 03:40:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008_onboarding"
down_revision: Union[str, Sequence[str], None] = "0005_credentials"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "onboarding_kits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaces", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_index(op.f("ix_onboarding_kits_site_id"), "onboarding_kits", ["site_id"], unique=False)
    op.create_table(
        "onboarding_records",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kit_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_data_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_data_edge", sa.String(length=64), nullable=True),
        sa.Column("first_challenge_signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_live_window_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("target_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id"),
    )
    op.create_table(
        "asset_nameplates",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("manufacturer", sa.String(length=200), nullable=False),
        sa.Column("product_type", sa.String(length=200), nullable=False),
        sa.Column("serial_number", sa.String(length=200), nullable=False),
        sa.Column("rated_power_kw", sa.Float(), nullable=True),
        sa.Column("rated_speed_rpm", sa.Float(), nullable=True),
        sa.Column("bearing", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("asset_id"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("asset_nameplates")
    op.drop_table("onboarding_records")
    op.drop_index(op.f("ix_onboarding_kits_site_id"), table_name="onboarding_kits")
    op.drop_table("onboarding_kits")
