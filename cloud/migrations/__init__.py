"""Alembic migrations of the relational domain (see cloud.database.upgrade_database)."""
