"""Fixtures every test folder may use: a real Mosquitto broker per test, a throw-away PostgreSQL database per session.

Helpers that are not fixtures (free ports, the broker and sample collector
classes, the operator log-in) live in :mod:`tests.servers`.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.servers import Mosquitto


@pytest.fixture
def mosquitto(tmp_path):
    """Start a Mosquitto broker for one test and stop it afterwards."""
    broker = Mosquitto(tmp_path)
    yield broker
    broker.stop()


PG_ADMIN = os.environ.get("TEACHFAB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_database():
    """URL of a fresh PostgreSQL database for this session; dropped afterwards."""
    import psycopg

    base = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and unreachable at {base}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {base}: {exc}")
    name = f"teachfab_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(autouse=True)
def _own_state_home(tmp_path, monkeypatch):
    """Each test its own ``$XDG_STATE_HOME``: edges without a state dir keep replay protection there.

    Edge ids repeat from test to test (``lab/edge-1``); without this, one
    test's applied commands and session outboxes would outlive it in the
    developer's ``~/.local/state``.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
