"""Relational domain: migrations, registry, accounts, tokens and scoping, on SQLite and on PostgreSQL.

PostgreSQL runs against the real server on 127.0.0.1:5432 (trust auth, user
``postgres``) in a throw-away database per session. Without it the PostgreSQL
cases are skipped, except when ``CI`` is set: then they fail.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from cloud.access import Role
from cloud.accounts.models import ApiToken
from cloud.accounts.security import token_digest
from cloud.accounts.service import (AccountError, authenticate, create_user, ensure_user, issue_token, resolve_token,
                                    revoke_token, update_user)
from cloud.challenges import teams
from cloud.challenges.scope import scope_of
from cloud.database import alembic_config, make_engine, make_sessionmaker, upgrade_database
from cloud.sites import service as reg
from cloud.tables import METADATA


@pytest.fixture(params=["sqlite", "postgresql"])
def domain_url(request, tmp_path):
    """A migrated, empty domain database on each backend; downgraded to nothing afterwards."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'domain.sqlite'}"
    else:
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
def db(domain_url):
    engine = make_engine(domain_url)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


def test_migration_creates_every_table_and_is_idempotent(domain_url):
    upgrade_database(domain_url)  # already at head: nothing to do, no error
    engine = make_engine(domain_url)
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert {"sites", "assets", "sensors", "edges", "users", "user_roles", "site_memberships", "api_tokens",
            "teams", "team_members", "challenges", "challenge_assets", "challenge_teams", "challenge_staff",
            "charters", "charter_signatures", "lab_sessions", "deployments", "evidence", "submissions",
            "assessment_scores", "moderations", "outcomes", "ledger", "skill_levels", "skill_changes",
            "skill_checks", "skill_consents", "invitations", "user_preferences", "imported_jobs"} <= tables
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()  # the newest migration


def test_the_migrated_schema_is_the_models(domain_url):
    engine = make_engine(domain_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    engine.dispose()
    assert diff == []


def test_registry_round_trip_and_constraints(db):
    reg.create_site(db, "plant-a", "Plant A", "sme", "Attica")
    reg.create_asset(db, "plant-a", "press-1", "hydraulic press")
    reg.create_sensor(db, "plant-a", "press-1", "vib_de", "g", 12000)
    reg.create_sensor(db, "plant-a", "press-1", "temp", "degC", 1)
    reg.create_edge(db, "plant-a", "gw-1", "key-2026-01")
    db.expire_all()
    [asset] = reg.list_assets(db, "plant-a")
    assert [(s.channel, s.units, s.rate_hz) for s in asset.sensors] == [("temp", "degC", 1.0), ("vib_de", "g", 12000.0)]
    assert [(e.edge_id, e.public_key_id) for e in reg.list_edges(db, "plant-a")] == [("gw-1", "key-2026-01")]
    with pytest.raises(reg.RegistryError, match="site 'plant-a' exists already"):
        reg.create_site(db, "plant-a", "again", "lab")
    with pytest.raises(reg.RegistryError, match="asset 'press-1'"):
        reg.create_asset(db, "plant-a", "press-1")
    with pytest.raises(LookupError, match="no site 'nowhere'"):
        reg.create_asset(db, "nowhere", "x")
    with pytest.raises(LookupError, match="no asset 'ghost'"):
        reg.create_sensor(db, "plant-a", "ghost", "x", "g", 1)
    # the same asset name may exist at another site
    reg.create_site(db, "lab", "Teaching lab", "lab")
    reg.create_asset(db, "lab", "press-1")
    assert [s.slug for s in reg.list_sites(db)] == ["lab", "plant-a"]


def test_users_passwords_and_tokens(db):
    user = create_user(db, "Ana@Example.org", "a-long-passphrase", [Role.mentor], "Ana")
    assert user.password_hash.startswith("$argon2id$") and "a-long-passphrase" not in user.password_hash
    with pytest.raises(AccountError, match="email: a user 'ana@example.org' exists already"):
        create_user(db, "ana@example.org", "another-passphrase", [Role.learner])
    assert authenticate(db, "ana@example.org", "wrong-passphrase!") is None
    assert authenticate(db, "nobody@example.org", "a-long-passphrase") is None
    assert authenticate(db, "ANA@example.org", "a-long-passphrase").id == user.id

    token, expires = issue_token(db, user, 3600)
    assert expires > datetime.now(timezone.utc)
    stored = db.scalars(select(ApiToken.token_hash)).all()
    assert stored == [token_digest(token)] and token not in stored  # only the digest is kept
    assert resolve_token(db, token).id == user.id
    assert resolve_token(db, token + "x") is None
    revoke_token(db, token)
    assert resolve_token(db, token) is None

    expired, _ = issue_token(db, user, 3600)
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(expired)))
    row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.commit()
    assert resolve_token(db, expired) is None

    live, _ = issue_token(db, user, 3600)
    update_user(db, user, active=False)  # deactivation revokes every token
    assert resolve_token(db, live) is None and authenticate(db, "ana@example.org", "a-long-passphrase") is None


def test_ensure_user_is_idempotent_and_resets_password(db):
    first = ensure_user(db, "ops@hub.example", "first-passphrase", [Role.hub_operator])
    again = ensure_user(db, "ops@hub.example", "second-passphrase", [Role.hub_operator])
    assert again.id == first.id and again.roles == {Role.hub_operator}
    assert authenticate(db, "ops@hub.example", "second-passphrase") is not None


def test_scopes_follow_roles_memberships_teams_and_challenges(db):
    for slug, kind in (("plant-a", "sme"), ("plant-b", "sme"), ("lab", "lab")):
        reg.create_site(db, slug, slug, kind)
    for site, asset in (("plant-a", "press-1"), ("plant-a", "fan-1"), ("plant-b", "pump-9"), ("lab", "pump-1")):
        reg.create_asset(db, site, asset)
    ops = create_user(db, "ops@x.org", "a-long-passphrase", [Role.hub_operator])
    sme = create_user(db, "sme@x.org", "a-long-passphrase", [Role.sme_partner], sites=["plant-a"])
    mentor = create_user(db, "mentor@x.org", "a-long-passphrase", [Role.mentor])
    assessor = create_user(db, "assessor@x.org", "a-long-passphrase", [Role.assessor])
    learner = create_user(db, "learner@x.org", "a-long-passphrase", [Role.learner])
    outsider = create_user(db, "out@x.org", "a-long-passphrase", [Role.learner])
    team = teams.create_team(db, "Team Blue", [learner])
    challenge = teams.create_challenge(db, "Bearing watch", "plant-a", ["press-1"], [team], [mentor, assessor])
    with pytest.raises(AccountError, match="sites: no site 'nowhere'"):
        create_user(db, "x@x.org", "a-long-passphrase", [Role.sme_partner], sites=["nowhere"])

    assert scope_of(db, ops).everything
    s = scope_of(db, sme)
    assert s.asset("plant-a", "fan-1") and not s.asset("plant-b", "pump-9") and not s.site("lab")
    assert s.challenge(challenge.id)
    for staff in (mentor, assessor):
        s = scope_of(db, staff)
        assert s.whole_site("plant-a") and s.asset("plant-a", "fan-1") and not s.site("plant-b")
    s = scope_of(db, learner)
    assert s.asset("plant-a", "press-1") and not s.asset("plant-a", "fan-1") and not s.whole_site("plant-a")
    assert s.site("plant-a") and not s.site("lab") and s.challenge(challenge.id)
    s = scope_of(db, outsider)
    assert not s.sites and not s.assets and not s.challenge(challenge.id)
    assert [c.name for c in teams.list_challenges(db, scope_of(db, learner))] == ["Bearing watch"]
    assert teams.list_challenges(db, scope_of(db, outsider)) == []


def test_hubs_starting_together_migrate_one_after_the_other(tmp_path):
    """Two replicas on one SQLite file: the second waits for the first's migration instead of failing."""
    import threading

    from sqlalchemy import inspect

    from cloud.database import make_engine, upgrade_database

    url = f"sqlite:///{tmp_path / 'domain.sqlite'}"
    errors = []

    def migrate():
        try:
            upgrade_database(url)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert "sites" in inspect(make_engine(url)).get_table_names()
