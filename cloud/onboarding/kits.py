"""Starter kits: an edge's configuration, the hub's command key and the edge's own broker credentials.

:class:`KitService` issues a kit for a registered edge of a site (the edge
is registered with the kit if it is not yet), generates its broker user
and password, keeps only Mosquitto's hash, rewrites the broker's password
and ACL files from every active kit and reloads the broker — so a new kit
works at once, and a revoked kit's gateway is disconnected at once. The
archive (tar.gz) carries:

- ``edge.yaml``: the edge agent's configuration (site, edge id, broker URL
  and credentials, sources, pipelines), paths relative to the archive;
- ``ca.pem``: the CA the broker's TLS certificate chains to (if any);
- ``hub-keys/<key_id>.pub.pem``: the hub's command-verification key;
- ``manifest.json``: format, site, edge, kit id, creation time and the
  SHA-256 of every other file (``teachfab edge install`` checks them).

The password exists only in that archive: re-issuing makes a new user and
password and revokes the old one.

:class:`SessionBrokerAccess` gives each running lab session's edge a broker
user of its own in the same files (kept in memory: a session does not
outlive the hub that runs it), limited to that edge's topics.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import tarfile
import threading
import time
from dataclasses import dataclass

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.database import as_utc, utcnow
from cloud.errors import Conflict, Invalid, NotFound
from cloud.onboarding.broker import BrokerAccount, BrokerFiles, edge_username, hash_password
from cloud.onboarding.models import Kit
from cloud.onboarding.records import stamp
from cloud.onboarding.schemas import KitCreate, KitIssued, KitPublic
from cloud.sites import service as registry
from contract.kit import KIT_FORMAT
from contract.payloads import describe_errors
from edge_agent.pipeline import PipelineConfig



@dataclass
class KitArchive:
    """An archive just built: its file name, bytes and short code."""

    filename: str
    data: bytes
    short_code: str


class KitService:
    """Issue, re-issue and revoke kits, keeping the broker's files in step.

    Parameters
    ----------
    broker_url : str
        The URL written into kits (what the gateway connects to).
    files : BrokerFiles or None
        The broker's password and ACL files; ``None``: the hub does not
        manage the broker (kits still carry credentials the operator installs).
    hub_account : BrokerAccount or None
        The hub's own broker user, always written first.
    lab_accounts : list of BrokerAccount
        Fixed users of the hub's own lab edges (``TEACHFAB_HUB_BROKER_LAB_EDGES``),
        written after the hub's; their edges are registered by :meth:`register_lab_edges`.
    ca_pem : bytes or None
        The CA certificate kits carry.
    command_key_id : str
        Name of the hub's command key.
    command_public_pem : bytes or None
        Its public half in PEM.
    hub_url : str or None
        The hub's address as gateways reach it (``edge check`` compares clocks with it).
    """

    def __init__(self, broker_url: str, files: BrokerFiles | None, hub_account: BrokerAccount | None,
                 ca_pem: bytes | None, command_key_id: str, command_public_pem: bytes | None,
                 hub_url: str | None = None, lab_accounts: list[BrokerAccount] | None = None) -> None:
        self.hub_url = hub_url
        self.lab_accounts = list(lab_accounts or [])
        #: running lab sessions' users, by session id (:class:`SessionBrokerAccess`)
        self.session_accounts: dict[int, BrokerAccount] = {}
        self.broker_url, self.files, self.hub_account = broker_url, files, hub_account
        self.ca_pem, self.command_key_id, self.command_public_pem = ca_pem, command_key_id, command_public_pem

    # -- broker files -----------------------------------------------------------------------------
    def accounts(self, db: Session) -> list[BrokerAccount]:
        """The broker users: the hub's first, then the fixed lab edges', the running sessions', every active kit's."""
        kits = db.scalars(select(Kit).where(Kit.revoked_at.is_(None)).order_by(Kit.id))
        out = ([self.hub_account] if self.hub_account else []) + self.lab_accounts
        out += [self.session_accounts[k] for k in sorted(self.session_accounts)]
        return out + [BrokerAccount(k.username, k.password_hash, k.site.slug, k.edge_id) for k in kits]

    def register_lab_edges(self, db: Session) -> None:
        """Register each fixed lab edge, and its site as a lab if new (ingest admits registered edges only)."""
        for a in self.lab_accounts:
            if registry.get_site(db, a.site) is None:
                registry.create_site(db, a.site, a.site, "lab")
            if not registry.edge_registered(db, a.site, a.edge):
                registry.create_edge(db, a.site, a.edge)

    def sync(self, db: Session) -> None:
        """Rewrite the broker's password and ACL files from the database and reload the broker."""
        if self.files is not None:
            self.files.write(self.accounts(db))

    # -- kits -------------------------------------------------------------------------------------
    def create(self, db: Session, body: KitCreate, by: int | None = None, replaces: int | None = None
               ) -> tuple[Kit, KitArchive]:
        """Issue a kit: check the mapping, register the edge if new, make its broker user, build the archive."""
        site = registry.require_site(db, body.site)
        known = {a.name for a in site.assets}
        for src in body.sources:
            if src.asset not in known:
                raise Invalid(f"sources: asset {src.asset!r} is not registered at site {body.site!r} "
                              f"(registered: {sorted(known) or 'none'})")
            if "asset" in src.options:
                raise Invalid(f"sources: asset goes beside options, not inside them (source {src.asset!r})")
        assets = sorted({s.asset for s in body.sources})
        pipelines = {}
        for asset, cfg in body.pipelines.items():
            if asset not in assets:
                raise Invalid(f"pipelines: {asset!r} is not one of the kit's assets {assets}")
            try:
                pipelines[asset] = PipelineConfig(**cfg).model_dump(mode="json", exclude_defaults=True)
            except ValidationError as exc:
                raise Invalid(f"pipelines.{asset}: {describe_errors(exc)}") from None
            except (TypeError, ValueError) as exc:
                raise Invalid(f"pipelines.{asset}: {exc}") from None
        active = db.scalar(select(Kit).where(Kit.site_id == site.id, Kit.edge_id == body.edge,
                                             Kit.revoked_at.is_(None)))
        if active is not None and active.id != replaces:
            raise Conflict(f"edge {body.edge!r} of site {body.site!r} has an active kit ({active.id}): "
                           "re-issue or revoke it")
        if not registry.edge_registered(db, body.site, body.edge):
            registry.create_edge(db, body.site, body.edge)
        spec = {"sources": [s.model_dump(mode="json") for s in body.sources], "pipelines": pipelines}
        kit = Kit(site_id=site.id, edge_id=body.edge, username=f"pending-{secrets.token_hex(8)}", password_hash="-",
                  spec=spec, created_by=by, replaces=replaces)
        db.add(kit)
        db.flush()  # the id names the user
        kit.username = edge_username(body.site, body.edge, kit.id)
        password = secrets.token_urlsafe(24)
        kit.password_hash = hash_password(kit.username, password)
        if replaces is not None:
            old = db.get(Kit, replaces)
            old.revoked_at = utcnow()
        db.flush()
        stamp(db, site, "kit_issued")
        archive = self.archive(kit, password)
        db.commit()
        self.sync(db)
        return kit, archive

    def revoke(self, db: Session, kit_id: int) -> Kit:
        """Revoke a kit: its broker user is removed and the broker reloaded (connected gateway dropped)."""
        kit = self.require(db, kit_id)
        if kit.revoked_at is None:
            kit.revoked_at = utcnow()
            db.commit()
        self.sync(db)
        return kit

    def reissue(self, db: Session, kit_id: int, by: int | None = None) -> tuple[Kit, KitArchive]:
        """A new kit for the same edge and mapping, with a new broker user and password; the old one is revoked."""
        old = self.require(db, kit_id)
        if old.revoked_at is not None:
            raise Conflict(f"kit {kit_id} is revoked: create a new kit for edge {old.edge_id!r}")
        body = KitCreate(site=old.site.slug, edge=old.edge_id, sources=old.spec["sources"],
                         pipelines=old.spec["pipelines"])
        return self.create(db, body, by, replaces=old.id)

    @staticmethod
    def require(db: Session, kit_id: int) -> Kit:
        """The kit ``kit_id``; :class:`NotFound` otherwise."""
        kit = db.get(Kit, kit_id)
        if kit is None:
            raise NotFound(f"no kit {kit_id}")
        return kit

    @staticmethod
    def list(db: Session, site: str | None = None) -> list[Kit]:
        """Kits, newest first, of one site or all."""
        q = select(Kit).order_by(Kit.id.desc())
        if site is not None:
            q = q.where(Kit.site_id == registry.require_site(db, site).id)
        return list(db.scalars(q))

    # -- the archive ------------------------------------------------------------------------------
    def edge_config(self, kit: Kit, password: str) -> dict:
        """The kit's ``edge.yaml`` as a mapping (paths relative to the unpacked kit)."""
        cfg: dict = {"site": kit.site.slug, "edge_id": kit.edge_id, "broker": self.broker_url,
                     "broker_username": kit.username, "broker_password": password}
        if self.ca_pem is not None:
            cfg["broker_ca"] = "ca.pem"
        if self.command_public_pem is not None:
            cfg["hub_keys"] = "hub-keys"
        if self.hub_url:
            cfg["hub_url"] = self.hub_url
        cfg["sources"] = [{"adapter": s["adapter"], "asset": s["asset"], **s["options"]} for s in kit.spec["sources"]]
        cfg["pipelines"] = kit.spec["pipelines"]
        return cfg

    def archive(self, kit: Kit, password: str) -> KitArchive:
        """The kit as one tar.gz with its manifest."""
        files: dict[str, bytes] = {
            "edge.yaml": (f"# TeachFab starter kit {kit.id} for {kit.site.slug}/{kit.edge_id}: holds a broker "
                          "password, keep it private\n").encode()
                         + yaml.safe_dump(self.edge_config(kit, password), sort_keys=False).encode()}
        if self.ca_pem is not None:
            files["ca.pem"] = self.ca_pem
        if self.command_public_pem is not None:
            files[f"hub-keys/{self.command_key_id}.pub.pem"] = self.command_public_pem
        digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        code = short_code(digests)
        manifest = {"format": KIT_FORMAT, "kit": kit.id, "site": kit.site.slug, "edge": kit.edge_id,
                    "created_at": kit.created_at.isoformat() if kit.created_at else utcnow().isoformat(),
                    "broker": self.broker_url, "short_code": code, "files": digests}
        files["manifest.json"] = json.dumps(manifest, indent=2).encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name in ["manifest.json", *sorted(n for n in files if n != "manifest.json")]:
                info = tarfile.TarInfo(f"kit/{name}")
                info.size, info.mtime = len(files[name]), int(time.time())
                info.mode = 0o600 if name == "edge.yaml" else 0o644
                tar.addfile(info, io.BytesIO(files[name]))
        return KitArchive(f"teachfab-kit-{kit.site.slug}-{kit.edge_id}-{kit.id}.tar.gz", buf.getvalue(), code)


class SessionBrokerAccess:
    """Broker users for the hub's lab sessions: what :class:`cloud.challenges.runner.LabRunner` asks for.

    Each session's edge gets ``{site}/{edge}/s{session id}`` with a random
    password and the ACL of that edge only (ingest admits it as a lab
    session of record, :class:`cloud.onboarding.hooks.RegisteredEdges`);
    the user is removed, and the broker reloaded, when the session stops.

    Parameters
    ----------
    kits : KitService
        Owns the broker's files (``kits.files``; ``None``: nothing to grant).
    sessions : sessionmaker
        The domain's sessions (registering the edge, rewriting the files).
    ca_file : str, optional
        The CA certificate the session edges verify the broker with (``mqtts://``).
    """

    def __init__(self, kits: KitService, sessions, ca_file: str | None = None) -> None:
        self.kits, self.sessions, self.ca_file = kits, sessions, ca_file
        self._lock = threading.Lock()

    def grant(self, spec) -> dict[str, str] | None:
        """A user for ``spec``'s edge (a :class:`~cloud.challenges.runner.SessionSpec`); ``None`` without files."""
        if self.kits.files is None:
            return None
        username = f"{spec.site}/{spec.edge}/s{spec.session_id}"
        password = secrets.token_urlsafe(24)
        account = BrokerAccount(username, hash_password(username, password), spec.site, spec.edge)
        with self._lock, self.sessions() as db:
            self.kits.session_accounts[spec.session_id] = account
            self.kits.sync(db)
        return {"username": username, "password": password, "ca": self.ca_file or ""}

    def release(self, spec) -> None:
        """Remove the session's user and reload the broker."""
        with self._lock, self.sessions() as db:
            if self.kits.session_accounts.pop(spec.session_id, None) is not None:
                self.kits.sync(db)


def short_code(digests: dict[str, str]) -> str:
    """Eight characters (two groups of four) from the kit's file digests, to read out and compare.

    Examples
    --------
    >>> short_code({"edge.yaml": "00" * 32})
    'WGLN-QZW8'
    """
    h = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).digest()
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread
    n = int.from_bytes(h[:5], "big")
    chars = "".join(alphabet[(n >> (5 * i)) & 31] for i in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def public(kit: Kit) -> KitPublic:
    """The API view of a kit."""
    return KitPublic(id=kit.id, site=kit.site.slug, edge=kit.edge_id, username=kit.username,
                     created_at=as_utc(kit.created_at), revoked_at=as_utc(kit.revoked_at), replaces=kit.replaces,
                     assets=sorted({s["asset"] for s in kit.spec["sources"]}))


def issued(kit: Kit, archive: KitArchive) -> KitIssued:
    """The API answer to issuing a kit."""
    return KitIssued(kit=public(kit), filename=archive.filename, archive_b64=base64.b64encode(archive.data).decode(),
                     short_code=archive.short_code)
