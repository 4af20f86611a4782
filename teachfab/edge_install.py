"""``teachfab edge install KIT``: a gateway's service from a starter kit.

What it does, in order (each step idempotent, so running it again repairs):

1. read the kit (``contract.kit.read_archive``: the manifest's SHA-256 of
   every file must match) and check its ``edge.yaml`` loads as the agent's
   settings (every source validated by its adapter);
2. write the configuration under ``ROOT/etc/teachfab/<edge>/`` (mode 0640:
   it holds the broker password), the CA and the hub key beside it, with
   absolute paths, and the state directory (outbox, snapshots, deployed
   pipelines) ``ROOT/var/lib/teachfab/<edge>`` on persistent storage;
3. create a virtual environment ``ROOT/opt/teachfab/<edge>/venv`` and
   ``pip install`` ``teachfab[edge]`` (or the ``--package`` given) into it;
4. write the systemd unit ``ROOT/etc/systemd/system/teachfab-edge-<edge>.service``:
   restart on failure, started at boot (``WantedBy=multi-user.target``),
   logs to journald, runs as the unprivileged user ``teachfab`` with the
   ``dialout`` group for serial ports, ``StateDirectory=`` for the outbox,
   and a hardened sandbox; checked with ``systemd-analyze verify`` when
   that tool exists;
5. with ``ROOT`` = ``/`` and as root: create the ``teachfab`` system user,
   ``systemctl daemon-reload`` and ``enable`` the unit (``--start`` also
   starts it; run ``teachfab edge check`` first).

``--root DIR`` installs everything under ``DIR`` (a test, or an SD-card
image being prepared): the paths written into the configuration and the
unit point into ``DIR``, so the installed agent runs from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from contract.kit import read_archive

SERVICE_USER = "teachfab"
SERIAL_GROUP = "dialout"


@dataclass
class Installed:
    """Where an install put things."""

    edge: str
    config: Path
    state_dir: Path
    venv: Path
    unit: Path
    verify: str  # what systemd-analyze verify said ("" when clean, or why it was skipped)

    @property
    def teachfab(self) -> Path:
        """The venv's ``teachfab`` command."""
        return self.venv / "bin" / "teachfab"


def unit_text(edge: str, site: str, teachfab: Path, config: Path, state_dir: Path, user: str = SERVICE_USER) -> str:
    """The systemd unit of one edge agent.

    Examples
    --------
    >>> text = unit_text("gw-1", "plant-a", Path("/opt/teachfab/gw-1/venv/bin/teachfab"),
    ...                  Path("/etc/teachfab/gw-1/edge.yaml"), Path("/var/lib/teachfab/gw-1"))
    >>> "Restart=on-failure" in text and "SupplementaryGroups=dialout" in text and "WantedBy=multi-user.target" in text
    True
    """
    state_rel = "teachfab/" + edge
    lines = [
        "# Written by 'teachfab edge install' from a TeachFab starter kit.",
        "[Unit]",
        f"Description=TeachFab edge agent {edge} (site {site})",
        "Documentation=https://github.com/teachfab/teachfab/blob/main/docs/onboarding.md",
        "Wants=network-online.target time-sync.target",
        "After=network-online.target time-sync.target",
        "StartLimitIntervalSec=300",
        "StartLimitBurst=10",
        "",
        "[Service]",
        "Type=exec",
        f"User={user}",
        f"Group={user}",
        f"SupplementaryGroups={SERIAL_GROUP}",
        f"ExecStart={teachfab} edge run {config}",
        "Restart=on-failure",
        "RestartSec=5",
        "# the outbox, model snapshots and deployed pipelines survive restarts and reboots",
        f"StateDirectory={state_rel}",
        "StateDirectoryMode=0750",
        f"Environment=TEACHFAB_EDGE_STATE_DIR={state_dir}",
        "Environment=PYTHONUNBUFFERED=1",
        "StandardOutput=journal",
        "StandardError=journal",
        f"SyslogIdentifier=teachfab-edge-{edge}",
        "NoNewPrivileges=yes",
        "ProtectSystem=full",
        "ProtectHome=read-only",
        "PrivateTmp=yes",
        f"ReadWritePaths={state_dir}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def install(kit: str | Path, root: str | Path = "/", package: str = "teachfab[edge]", *, start: bool = False,
            pip_args: tuple[str, ...] = (), say=print) -> Installed:
    """Install the kit's edge as a service under ``root``; return where everything went.

    ``ValueError`` names what is wrong with the kit; ``RuntimeError`` says
    which step of the install failed and why.
    """
    from edge_agent.agent import EdgeSettings  # the edge extra: validates every source with its adapter

    manifest, files = read_archive(kit)
    cfg = yaml.safe_load(files["edge.yaml"])
    edge, site = manifest["edge"], manifest["site"]
    if cfg.get("edge_id") != edge or cfg.get("site") != site:
        raise ValueError(f"{kit}: edge.yaml names {cfg.get('site')}/{cfg.get('edge_id')}, the manifest {site}/{edge}")
    root = Path(root).resolve()
    etc, state = root / "etc" / "teachfab" / edge, root / "var" / "lib" / "teachfab" / edge
    venv, unit = root / "opt" / "teachfab" / edge / "venv", root / "etc" / "systemd" / "system" / f"teachfab-edge-{edge}.service"
    say(f"kit {manifest['kit']} for {site}/{edge} (short code {manifest['short_code']}): files match the manifest")

    for name, data in files.items():
        if name != "edge.yaml":
            _write(etc / name, data, 0o644)
    if "broker_ca" in cfg:
        cfg["broker_ca"] = str(etc / cfg["broker_ca"])
    if "hub_keys" in cfg:
        cfg["hub_keys"] = str(etc / cfg["hub_keys"])
    cfg["state_dir"] = str(state)
    try:
        EdgeSettings(**cfg)
    except ValueError as exc:
        raise ValueError(f"{kit}: edge.yaml does not load as an edge configuration: {exc}") from None
    header = f"# TeachFab edge {site}/{edge}, from kit {manifest['kit']}: holds the broker password (mode 0640)\n"
    _write(etc / "edge.yaml", header.encode() + yaml.safe_dump(cfg, sort_keys=False).encode(), 0o640)
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o750)
    say(f"configuration {etc / 'edge.yaml'}; state (outbox) {state}")

    if not (venv / "bin" / "python").exists():
        _run([sys.executable, "-m", "venv", str(venv)], "creating the virtual environment", 300)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          *pip_args, package], f"pip install {package}", 1800)
    say(f"virtual environment {venv} with {package}")

    teachfab = venv / "bin" / "teachfab"
    _write(unit, unit_text(edge, site, teachfab, etc / "edge.yaml", state).encode(), 0o644)
    verify = verify_unit(unit)
    say(f"systemd unit {unit}" + (f" (systemd-analyze verify: {verify})" if verify else " (verified)"))
    if root == Path("/") and os.geteuid() == 0:
        _system_setup(edge, etc, state, start, say)
    else:
        say(f"staged under {root}: no user created, nothing enabled")
    return Installed(edge, etc / "edge.yaml", state, venv, unit, verify)


def verify_unit(unit: Path) -> str:
    """``systemd-analyze verify`` of the unit: ``""`` when clean, else its complaints (or why it was skipped)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return "skipped: systemd-analyze is not installed"
    done = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    # outside a booted systemd (a container, a build host) it may warn about the host; keep the unit's own lines
    own = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    if done.returncode != 0 and own:
        raise RuntimeError(f"systemd-analyze verify refused {unit}:\n" + "\n".join(own))
    return "\n".join(own)


def _system_setup(edge: str, etc: Path, state: Path, start: bool, say) -> None:
    """On the gateway itself: the service user, ownership, daemon-reload, enable (and start)."""
    import grp
    import pwd

    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        _run(["useradd", "--system", "--home-dir", "/var/lib/teachfab", "--shell", "/usr/sbin/nologin",
              "--groups", SERIAL_GROUP, SERVICE_USER], f"creating the system user {SERVICE_USER}", 60)
    gid = grp.getgrnam(SERVICE_USER).gr_gid
    uid = pwd.getpwnam(SERVICE_USER).pw_uid
    os.chown(etc / "edge.yaml", 0, gid)
    os.chown(state, uid, gid)
    unit = f"teachfab-edge-{edge}.service"
    _run(["systemctl", "daemon-reload"], "systemctl daemon-reload", 60)
    _run(["systemctl", "enable", *(["--now"] if start else []), unit], f"systemctl enable {unit}", 120)
    say(f"{unit} enabled{' and started' if start else ''}: journalctl -u {unit} -f")


def _run(cmd: list[str], what: str, timeout: float) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
