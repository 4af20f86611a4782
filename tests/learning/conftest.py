"""Fixtures of the learning-domain tests: a migrated database per backend and the cast of people.

Every test that takes ``db`` runs on SQLite and on the real PostgreSQL at
127.0.0.1:5432 (its throw-away ``pg_database``). To stay fast, the
migrations run once per module and backend; each test then gets an empty
copy (SQLite: a copy of the migrated file; PostgreSQL: every row deleted,
schema and write-once triggers kept).
"""

from __future__ import annotations

import functools
import shutil
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect, text

from cloud.accounts.security import hash_password
from cloud.accounts.service import create_user
from cloud.challenges import teams
from cloud.database import alembic_config, make_engine, make_sessionmaker, upgrade_database
from cloud.sites import service as reg
from labs.packs import load_pack
from tests.learning.support import PW


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def migrated(request, tmp_path_factory):
    """URL of a database migrated to head, once per module and backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('domain') / 'template.sqlite'}"
        upgrade_database(url)
        yield url
        return
    url = request.getfixturevalue("pg_database")
    upgrade_database(url)
    yield url
    from alembic import command

    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    engine.dispose()


@pytest.fixture
def db(migrated, tmp_path):
    """A session on an empty, migrated database of the module's backend."""
    url = migrated
    if url.startswith("sqlite"):
        copy = tmp_path / "domain.sqlite"
        shutil.copyfile(url.removeprefix("sqlite:///"), copy)
        url = f"sqlite:///{copy}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
        with engine.begin() as conn:  # replica role: the write-once triggers stay, but do not fire here
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


@functools.cache
def _password_hash() -> str:
    return hash_password(PW)


#: The service modules load the (unchanging) pack files on every call; once per test run is enough here.
_load_pack_once = functools.cache(load_pack)


@pytest.fixture
def people(db, monkeypatch):
    """Sites ``vet-lab`` (the challenges') and ``acme-plant``, everyone who takes part, and Team Ana.

    One real argon2id hash serves every account: hashing costs ~0.3 s a user
    and passwords are not what these tests are about. Packs load once.
    """
    monkeypatch.setattr("cloud.accounts.service.hash_password", lambda _pw: _password_hash())
    monkeypatch.setattr("labs.packs.load_pack", _load_pack_once)
    reg.create_site(db, "vet-lab", "VET college lab", "lab")
    reg.create_site(db, "acme-plant", "Acme plant", "sme")

    def user(email, roles, sites=()):
        return create_user(db, email, PW, roles, sites=sites)

    p = SimpleNamespace(
        ops=user("ops@hub.example", ["hub_operator"]),
        sme=user("partner@vet.example", ["sme_partner"], ["vet-lab"]),
        other_sme=user("partner@acme.example", ["sme_partner"], ["acme-plant"]),
        mentor=user("mentor@vet.example", ["mentor"]),
        academic=user("academic@vet.example", ["assessor"]),
        industrial=user("industrial@acme.example", ["assessor"]),
        stranger_mentor=user("mentor@elsewhere.example", ["mentor"]),
        stranger_assessor=user("assessor@elsewhere.example", ["assessor"]),
        ana=user("ana@learner.example", ["learner"]),
        ben=user("ben@learner.example", ["learner"]),
    )
    p.team = teams.create_team(db, "Team Ana", [p.ana])
    return p
