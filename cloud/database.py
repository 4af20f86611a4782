"""The hub's relational database: declarative base, engines, sessions and schema migrations.

SQLite (embedded default, a file or in-memory) and PostgreSQL (``postgresql+psycopg://``)
are supported; the schema is created only by alembic migrations
(:func:`upgrade_database`), never by ``create_all``. Each area of the hub
(sites, accounts, challenges) declares its tables on :class:`Base` in its own
``models`` module; :mod:`cloud.tables` lists them all for the migrations.
"""

from __future__ import annotations

import contextlib
import fcntl
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
import sqlalchemy.exc
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base of every relational table of the hub."""


def utcnow() -> datetime:
    """Timezone-aware current time (UTC)."""
    return datetime.now(timezone.utc)


def as_utc(ts: datetime | None) -> datetime | None:
    """``ts`` with its UTC offset; SQLite hands datetimes back naive, they were stored in UTC.

    Examples
    --------
    >>> as_utc(datetime(2026, 11, 23, 9, 30)).isoformat()
    '2026-11-23T09:30:00+00:00'
    """
    return ts if ts is None or ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


def iso_utc(ts: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset; SQLite hands datetimes back naive, they were stored in UTC.

    Examples
    --------
    >>> iso_utc(datetime(2026, 11, 23, 9, 30))
    '2026-11-23T09:30:00+00:00'
    """
    return None if ts is None else as_utc(ts).isoformat()


def make_engine(url: str) -> Engine:
    """Engine for ``url``; SQLite gets foreign keys on, in-memory SQLite one shared connection.

    Examples
    --------
    >>> make_engine("sqlite://").dialect.name
    'sqlite'
    """
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        kw = {"poolclass": StaticPool} if memory else {}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kw)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


class DatabaseUnusable(RuntimeError):
    """The relational database cannot be opened or migrated; the message names it (password hidden)."""


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Session factory bound to ``engine`` (objects stay readable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration pointing at ``cloud/migrations`` (no ``alembic.ini`` needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(target: str | Engine, revision: str = "head") -> None:
    """Migrate the database at ``target`` (a URL or an engine) to ``revision``.

    Passing an engine lets an in-memory SQLite database be migrated and then used.

    Examples
    --------
    >>> engine = make_engine("sqlite://")
    >>> upgrade_database(engine)
    >>> from sqlalchemy import inspect
    >>> {"sites", "users", "api_tokens"} <= set(inspect(engine).get_table_names())
    True
    """
    engine = make_engine(target) if isinstance(target, str) else target
    cfg = alembic_config()
    try:
        with _migration_lock(engine), engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # replicas starting together migrate one after the other
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except sqlalchemy.exc.DatabaseError as exc:
        where = engine.url.render_as_string(hide_password=True)
        hint = (": the file is not an SQLite database or is damaged; move it aside or restore a backup"
                if engine.dialect.name == "sqlite" and any(w in str(exc.orig) for w in ("not a database", "malformed"))
                else "")
        raise DatabaseUnusable(f"database {where}: {exc.orig}{hint}") from exc
    finally:
        if isinstance(target, str):
            engine.dispose()


_MIGRATION_LOCK_ID = 0x7EAC_FAB  # any constant shared by every hub of one deployment


@contextlib.contextmanager
def _migration_lock(engine: Engine):
    """For a SQLite file: an exclusive lock on ``<file>.migrate.lock`` while migrating (two hubs, one file)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
