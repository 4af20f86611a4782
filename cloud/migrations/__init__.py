"""Alembic migrations of the relational domain (see cloud.domain.db.upgrade_database)."""
