"""Mosquitto's access, managed by the hub: a password file, an ACL file and a reload signal.

The hub owns two files the broker reads (``password_file`` and
``acl_file`` in ``mosquitto.conf``) and rewrites both whole from its
database whenever a kit is issued, re-issued or revoked, then signals the
broker to reload them (SIGHUP: Mosquitto re-reads both files, and
disconnects clients whose credentials no longer pass) — no restart, so the
other edges stay connected.

Passwords are hashed by Mosquitto's own ``mosquitto_passwd -U`` (PBKDF2-
SHA512 in Mosquitto 2), run on a private temporary file so that no
password appears on a command line; the hub keeps only the hash.

The ACL gives

- each edge user: publish only the contract's upward topics under
  ``tf/v1/{site}/{edge}/`` (never a command), subscribe only
  ``tf/v1/{site}/{edge}/cmd/#``;
- the hub user: read ``tf/v1/#``, write only ``tf/v1/+/+/cmd/#``;
- anonymous clients: nothing (``allow_anonymous false`` in the config
  :func:`mosquitto_config` writes).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from contract.topics import ASSET_KINDS, BUNDLE_KIND, EDGE_KINDS, PREFIX

log = logging.getLogger(__name__)
MANAGED = "# Managed by the TeachFab hub (cloud/onboarding/broker.py): edits by hand are overwritten.\n"


@dataclass(frozen=True)
class BrokerAccount:
    """One broker user: its name, Mosquitto hash and what it may do.

    ``site`` and ``edge`` are ``None`` for the hub's own user.
    """

    username: str
    password_hash: str
    site: str | None = None
    edge: str | None = None

    @property
    def is_hub(self) -> bool:
        """Whether this is the hub's user (reads everything, writes only commands)."""
        return self.site is None


def mosquitto_passwd() -> str:
    """Path of Mosquitto's ``mosquitto_passwd``; ``RuntimeError`` says how to install it."""
    exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(exe).exists():
        raise RuntimeError("mosquitto_passwd not found: install Mosquitto's clients (apt-get install mosquitto)")
    return exe


def hash_password(username: str, password: str) -> str:
    """Mosquitto's hash of ``password`` for ``username``, made by ``mosquitto_passwd -U``.

    Examples
    --------
    >>> hash_password("edge-a", "correct horse").startswith("$7$")
    True
    """
    _check_username(username)
    if not password or any(c in password for c in "\r\n"):
        raise ValueError("a broker password must be non-empty and one line")
    with tempfile.TemporaryDirectory(prefix="tf-passwd-") as tmp:
        path = Path(tmp) / "plain"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{username}:{password}\n")
        done = subprocess.run([mosquitto_passwd(), "-U", str(path)], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"mosquitto_passwd -U failed: {done.stderr.strip() or done.stdout.strip()}")
        line = path.read_text(encoding="utf-8").strip()
    user, _, hashed = line.partition(":")
    if user != username or not hashed.startswith("$"):
        raise RuntimeError("mosquitto_passwd -U wrote an unexpected line")
    return hashed


def edge_username(site: str, edge: str, kit_id: int) -> str:
    """The broker user of kit ``kit_id`` for ``edge`` at ``site`` (a new one at every re-issue).

    Examples
    --------
    >>> edge_username("plant-a", "gw-1", 7)
    'plant-a/gw-1/k7'
    """
    return f"{site}/{edge}/k{kit_id}"


def edge_acl(site: str, edge: str) -> list[str]:
    """ACL lines of an edge: the contract's upward topics under its prefix (bundles too), and its own commands."""
    prefix = f"{PREFIX}/{site}/{edge}"
    lines = [f"topic write {prefix}/+/{kind}" for kind in ASSET_KINDS]
    lines += [f"topic write {prefix}/{kind}" for kind in EDGE_KINDS + (BUNDLE_KIND,)]
    lines.append(f"topic read {prefix}/cmd/#")
    return lines


def hub_acl() -> list[str]:
    """ACL lines of the hub's user: read every edge topic, write only commands."""
    return [f"topic read {PREFIX}/#", f"topic write {PREFIX}/+/+/cmd/#"]


def render_passwords(accounts: list[BrokerAccount]) -> str:
    """The password file's text."""
    return MANAGED + "".join(f"{a.username}:{a.password_hash}\n" for a in accounts)


def render_acl(accounts: list[BrokerAccount]) -> str:
    """The ACL file's text; the lines before the first ``user`` (anonymous clients) grant nothing."""
    out = [MANAGED.rstrip("\n"), "# anonymous clients: no topic at all"]
    for a in accounts:
        out += ["", f"user {a.username}", *(hub_acl() if a.is_hub else edge_acl(a.site, a.edge))]
    return "\n".join(out) + "\n"


class BrokerFiles:
    """The broker's password and ACL files and how to make the broker reload them.

    Parameters
    ----------
    passwd_file, acl_file : str or Path
        Files named by ``password_file`` and ``acl_file`` in ``mosquitto.conf``.
    pid_file : str or Path, optional
        The broker's pid file: reloading sends it SIGHUP.
    reload_command : str, optional
        A command that makes the broker reload instead (e.g.
        ``systemctl reload mosquitto`` or ``docker kill -s HUP mosquitto``).
    """

    def __init__(self, passwd_file: str | Path, acl_file: str | Path, pid_file: str | Path | None = None,
                 reload_command: str | None = None) -> None:
        self.passwd_file, self.acl_file = Path(passwd_file), Path(acl_file)
        self.pid_file = None if pid_file is None else Path(pid_file)
        self.reload_command = reload_command
        self.reloads = 0

    def write(self, accounts: list[BrokerAccount]) -> None:
        """Rewrite both files from ``accounts`` (atomically; the password file 0640, for the broker's group) and reload the broker."""
        names = [a.username for a in accounts]
        if len(set(names)) != len(names):
            raise ValueError("broker usernames must be unique")
        _atomic_write(self.passwd_file, render_passwords(accounts), 0o640)
        _atomic_write(self.acl_file, render_acl(accounts), 0o644)
        self.reload()

    def reload(self) -> None:
        """Make the broker re-read its password and ACL files (SIGHUP or the reload command)."""
        if self.pid_file is not None:
            if not self.pid_file.exists():  # the broker is not running: it reads the files when it starts
                log.warning("broker pid file %s does not exist: the broker reads the new files when it starts",
                            self.pid_file)
                return
            try:
                os.kill(int(self.pid_file.read_text().strip()), signal.SIGHUP)
            except (OSError, ValueError) as exc:
                raise RuntimeError(f"cannot signal the broker of pid file {self.pid_file}: {exc}") from None
        elif self.reload_command:
            done = subprocess.run(shlex.split(self.reload_command), capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                raise RuntimeError(f"broker reload command {self.reload_command!r} failed: {done.stderr.strip()}")
        else:
            return  # nothing to signal: the operator reloads the broker
        self.reloads += 1


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listener(host: str, secured: bool) -> None:
    """Refuse (``ValueError``) a listener beyond loopback that lets clients in without credentials."""
    if not secured and not is_loopback(host):
        raise ValueError(f"refusing an open MQTT listener on {host}: beyond loopback every client needs "
                         "credentials (give a password file and ACL, i.e. kits with broker credentials), "
                         "or listen on 127.0.0.1 only")


def mosquitto_config(listeners: list[tuple[str, int]], passwd_file: Path | None, acl_file: Path | None, *,
                     tls: tuple[Path, Path] | None = None, pid_file: Path | None = None,
                     extra: str = "") -> str:
    """A ``mosquitto.conf`` with the hub's files; refuses an open listener beyond loopback.

    Parameters
    ----------
    listeners : list of (host, port)
        Where the broker listens.
    passwd_file, acl_file : Path or None
        The hub-managed files; without them clients are anonymous (loopback only).
    tls : (cert, key), optional
        The listener certificate and key (:mod:`cloud.onboarding.pki`): every listener speaks TLS.
    pid_file : Path, optional
        Where the broker writes its pid (what :class:`BrokerFiles` signals).
    extra : str
        Further lines (persistence, limits, logging).
    """
    secured = passwd_file is not None and acl_file is not None
    lines = [MANAGED.rstrip("\n"), "per_listener_settings false"]
    for host, port in listeners:
        check_listener(host, secured)
        lines.append(f"listener {port} {host}")
        if tls is not None:
            lines += [f"certfile {tls[0]}", f"keyfile {tls[1]}", "tls_version tlsv1.2"]
    if secured:
        lines += ["allow_anonymous false", f"password_file {passwd_file}", f"acl_file {acl_file}"]
    else:
        lines.append("allow_anonymous true")
    if pid_file is not None:
        lines.append(f"pid_file {pid_file}")
    return "\n".join(lines) + "\n" + extra


def _check_username(username: str) -> None:
    if not username or any(c in username for c in ": \t\r\n#+") or len(username) > 200:
        raise ValueError(f"broker username {username!r} must be 1-200 characters without ':', spaces, '#' or '+'")


def _atomic_write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
