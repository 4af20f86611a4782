"""Alembic environment: run migrations on a given connection, or on ``sqlalchemy.url``.

Nothing happens on a plain import (e.g. doctest collection); alembic runs :func:`main`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cloud.tables import METADATA

target_metadata = METADATA


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Use the connection handed over by :func:`cloud.database.upgrade_database`, else open one."""
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if hasattr(context, "config"):  # running under alembic
    main()
