"""credentials: issuer keys, status lists, issued credentials

Revision ID: 0005_credentials
Revises: 0004 (skills)
Create Date: 2026-12-02 04:10:00

Issuer keys are never deleted (a retired key stays published so what it signed still verifies):
triggers refuse DELETE on issuer_keys.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005_credentials"
down_revision: Union[str, Sequence[str], None] = "0004"  # the skills revision (0004_skills.py)
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "issuer_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_multibase", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_multibase"),
    )
    op.create_table(
        "status_lists",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "issued_credentials",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_key", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("revocation_list", sa.String(length=32), nullable=False),
        sa.Column("revocation_index", sa.Integer(), nullable=False),
        sa.Column("suspension_list", sa.String(length=32), nullable=False),
        sa.Column("suspension_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("share_token_hash", sa.String(length=64), nullable=True),
        sa.Column("raised", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["lab_sessions.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["key_id"], ["issuer_keys.id"]),
        sa.ForeignKeyConstraint(["revocation_list"], ["status_lists.id"]),
        sa.ForeignKeyConstraint(["suspension_list"], ["status_lists.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "user_id", "credential_key"),
        sa.UniqueConstraint("revocation_list", "revocation_index"),
        sa.UniqueConstraint("suspension_list", "suspension_index"),
        sa.UniqueConstraint("share_token_hash"),
    )
    op.create_index("ix_issued_credentials_session_id", "issued_credentials", ["session_id"])
    op.create_index("ix_issued_credentials_user_id", "issued_credentials", ["user_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("CREATE TRIGGER issuer_keys_no_delete BEFORE DELETE ON issuer_keys "
                   "BEGIN SELECT RAISE(ABORT, 'issuer keys are never deleted'); END")
    elif dialect == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION tf_write_once() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION '% rows are write-once', TG_TABLE_NAME; END $$")
        op.execute("CREATE TRIGGER issuer_keys_no_delete BEFORE DELETE ON issuer_keys "
                   "FOR EACH ROW EXECUTE FUNCTION tf_write_once()")


def downgrade() -> None:
    """Downgrade schema."""
    dialect = op.get_bind().dialect.name
    op.execute("DROP TRIGGER IF EXISTS issuer_keys_no_delete" + (" ON issuer_keys" if dialect == "postgresql" else ""))
    op.drop_index("ix_issued_credentials_user_id", table_name="issued_credentials")
    op.drop_index("ix_issued_credentials_session_id", table_name="issued_credentials")
    for table in ("issued_credentials", "status_lists", "issuer_keys"):
        op.drop_table(table)
