"""The ``teachfab`` command: ``demo``, ``sim``, ``edge``, ``lab`` and ``hub``.

This module imports only the standard library: each command imports its
part of TeachFab when it runs, so the command works in any install
(``pip install 'teachfab[edge]'`` on a gateway) and a command whose extra is
missing says which one to install instead of failing with a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence

#: Top-level packages of this distribution: a missing module among them is a bug, not a missing extra.
OUR_PACKAGES = frozenset({"contract", "firmware_adapters", "edge_agent", "simulators", "labs", "cloud", "teachfab"})


def _positive(value: str) -> float:
    v = float(value)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return v


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="teachfab", description="TeachFab: edge-to-cloud IoT for teaching factories.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="simulator → OPC UA → edge agent → MQTT → hub, all on this machine")
    d.add_argument("--duration", type=_positive, help="stop after SECONDS (default: run until Ctrl-C)")
    d.add_argument("--json", action="store_true", help="print one JSON summary object at exit")
    d.add_argument("--broker", help="use this broker (mqtt://host:port) instead of the embedded one")
    d.add_argument("--http-port", type=int, default=8000, help="dashboard port (next free one if taken)")
    d.add_argument("--fault-at", type=_positive, help="seconds until the outer-race fault starts")

    s = sub.add_parser("sim", help="simulators")
    ssub = s.add_subparsers(dest="sim_command", required=True)
    sr = ssub.add_parser("run", help="serve a scenario over OPC UA, serial ptys and/or MQTT")
    sr.add_argument("scenario", help="scenario YAML file, or the name of a shipped example (teachfab sim list)")
    sr.add_argument("--opcua", type=int, metavar="PORT", help="serve over OPC UA on PORT (0: any free port)")
    sr.add_argument("--serial", nargs="?", const="csv", choices=["csv", "json", "frame"],
                    help="serve each asset on a pseudo-terminal (default framing csv)")
    sr.add_argument("--mqtt", metavar="URL", help="publish like smart sensors to mqtt://host:port")
    sr.add_argument("--duration", type=_positive, help="stop after SECONDS (default: the scenario's duration)")
    sr.add_argument("--ground-truth", metavar="FILE", help="write the ground truth (JSON, epoch ns) here")
    sr.add_argument("--link-dir", metavar="DIR", help="keep DIR/<asset> symlinks to the serial ptys")
    ssub.add_parser("list", help="list the shipped example scenarios")
    so = ssub.add_parser("opcua", help="serve one simulated machine over OPC UA")
    so.add_argument("--port", type=int, default=4840)
    so.add_argument("--asset", default="pump-1")
    so.add_argument("--rpm", type=_positive, default=1797.0)
    so.add_argument("--fault-at", type=_positive, help="seconds until an outer-race fault starts")
    so.add_argument("--seed", type=int, default=0)

    e = sub.add_parser("edge", help="edge agent")
    esub = e.add_subparsers(dest="edge_command", required=True)
    er = esub.add_parser("run", help="run an edge agent from a YAML config")
    er.add_argument("config", help="path of the agent's YAML config")
    ei = esub.add_parser("install", help="install a starter kit as a systemd service (venv, config, unit)")
    ei.add_argument("kit", help="the kit archive (.tar.gz) from the hub")
    ei.add_argument("--root", default="/", help="install under this directory instead of / (tests, images)")
    ei.add_argument("--package", default="teachfab[edge]", help="what pip installs into the venv")
    ei.add_argument("--start", action="store_true", help="also start the service (on / as root)")
    ec = esub.add_parser("check", help="check sensors, broker, clock and disk for an edge config")
    ec.add_argument("config", help="the installed edge.yaml (/etc/teachfab/<edge>/edge.yaml)")
    ec.add_argument("--hub", help="the hub's URL for the clock check (default: the config's hub_url)")
    ec.add_argument("--timeout", type=_positive, default=15.0, help="seconds per check (default 15)")
    ep = esub.add_parser("replay", help="score and diagnose a recording offline (.mat, .csv, .npz, .wav)")
    ep.add_argument("file", help="recording to analyse")
    ep.add_argument("--fs", type=_positive, help="its sample rate in Hz (default: from the file)")
    ep.add_argument("--rpm", type=_positive, help="shaft speed (default: the file's *RPM variable)")
    ep.add_argument("--bearing", default="6205", help="bearing designation (6205, 6203)")
    ep.add_argument("--channel", default="DE", help="DE/FE/BA for CWRU .mat files, else a variable, column or index")
    ep.add_argument("--range", help="part of FILE to score, 'A:B' fractions (default 0:1)")
    ep.add_argument("--baseline", metavar="FILE", help="healthy recording the detector learns on")
    ep.add_argument("--baseline-fs", type=_positive, help="its sample rate in Hz (default: from the file)")
    ep.add_argument("--baseline-range", help="part of the baseline to learn on, 'A:B' fractions")
    ep.add_argument("--analysis-fs", type=_positive, help="resample everything to this rate (default: the lowest)")
    ep.add_argument("--pipeline", help="pipeline YAML (default: the built-in bearing pipeline)")
    ep.add_argument("--window", type=int, default=4096, help="samples per analysis window (default 4096)")
    ep.add_argument("--json", action="store_true", help="print one JSON object")
    ep.add_argument("--report", metavar="PATH", help="also write an HTML report (spectrum and evidence) to PATH")

    k = sub.add_parser("kit", help="starter kits of SME edges (on the hub)")
    ksub = k.add_subparsers(dest="kit_command", required=True)
    kc = ksub.add_parser("create", help="issue a kit: edge config, hub key and the edge's own broker user")
    kc.add_argument("--site", required=True, help="registered site slug")
    kc.add_argument("--edge", required=True, help="edge id (registered with the kit if new)")
    kc.add_argument("--spec", required=True, help="YAML file: sources (adapter, asset, options) and pipelines")
    kc.add_argument("--out", help="where to write the archive (default: its name, here)")
    kc.add_argument("--db", help="SQLite file of the hub (the domain database is next to it)")
    kr = ksub.add_parser("revoke", help="revoke a kit: its broker user stops working at once")
    kr.add_argument("kit_id", type=int)
    kr.add_argument("--db", help="SQLite file of the hub")

    b = sub.add_parser("broker", help="the hub's Mosquitto: TLS, password and ACL files")
    bsub = b.add_subparsers(dest="broker_command", required=True)
    bi = bsub.add_parser("init", help="write a mosquitto.conf with TLS and the hub-managed password and ACL files")
    bi.add_argument("--dir", required=True, help="directory for the config, certificates and the hub's files")
    bi.add_argument("--listen", action="append", default=[], metavar="HOST:PORT",
                    help="listener (repeatable; default 127.0.0.1:8883)")
    bi.add_argument("--host", action="append", default=[], help="name or address edges use (the certificate's)")
    bi.add_argument("--ca-cert", help="the operator's CA certificate (default: make a small CA in DIR)")
    bi.add_argument("--ca-key", help="its private key")
    bi.add_argument("--open", action="store_true", help="no TLS, no passwords: refused beyond loopback")

    lab = sub.add_parser("lab", help="lab packs (remote lab sessions)")
    labsub = lab.add_subparsers(dest="lab_command", required=True)
    labsub.add_parser("list", help="list the shipped lab packs")
    ls = labsub.add_parser("show", help="summary of one lab pack")
    ls.add_argument("pack", help="pack id (teachfab lab list) or path of a pack folder")
    lr = labsub.add_parser("rehearse", help="run a pack's scenario through a pipeline offline and score it")
    lr.add_argument("pack", help="pack id or path of a pack folder")
    lr.add_argument("--pipeline", help="declared pipeline YAML (default: the pack's starter pipeline)")
    lr.add_argument("--duration", type=_positive, help="simulated seconds (default: the scenario's duration)")
    lr.add_argument("--json", action="store_true", help="print one JSON object")
    lu = labsub.add_parser("up", help="run a lab session of a pack on this machine (embedded broker, hub, "
                                      "simulator, edge agent) with a learner page")
    lu.add_argument("pack", help="pack id (teachfab lab list)")
    lu.add_argument("--speed", type=_positive, default=1.0,
                    help="scenario seconds per wall second (default 1: real time; at most 50)")
    lu.add_argument("--duration", type=_positive, help="close the session after SECONDS (default: Ctrl-C)")
    lu.add_argument("--broker", help="use this broker (mqtt://host:port) instead of the embedded one")
    lu.add_argument("--http-port", type=int, default=8000, help="hub port (next free one if taken)")
    lu.add_argument("--stay", type=_positive, default=0.0,
                    help="keep the hub serving SECONDS after the close (its KPI and session pages; default 0)")
    lu.add_argument("--credentials-dir", default="lab-credentials",
                    help="where the issued credentials, the issuer's controller document and status lists are "
                         "saved for verifying offline (default: ./lab-credentials)")
    lu.add_argument("--issuer-country", default="SI", help="ISO 3166-1 alpha-2 country of the awarding body")
    lu.add_argument("--json", action="store_true", help="print the evidence as one JSON object at the end")
    lu.add_argument("--handover-dir", default=".", help="where the closed challenge's handover package is saved "
                                                         "(default: the current folder)")

    h = sub.add_parser("hub", help="cloud hub")
    hsub = h.add_subparsers(dest="hub_command", required=True)
    hr = hsub.add_parser("run", help="run the hub (settings from TEACHFAB_HUB_* and these flags)")
    hr.add_argument("--broker", help="mqtt://host:port to ingest from")
    hr.add_argument("--db", help="SQLite file")
    hr.add_argument("--port", type=int, help="HTTP port")
    hu = hsub.add_parser("create-user", help="create a hub user (the password is read from stdin or a prompt)")
    hu.add_argument("email")
    hu.add_argument("--role", action="append", required=True,
                    choices=["learner", "mentor", "assessor", "hub_operator", "sme_partner"], help="repeatable")
    hu.add_argument("--name", default="", help="display name")
    hu.add_argument("--site", action="append", default=[], help="site slug the user belongs to (repeatable)")
    hu.add_argument("--db", help="SQLite file of the hub (the domain database is next to it)")
    hp = hsub.add_parser("set-password", help="reset a hub user's password (read from stdin or a prompt); "
                                              "revokes every token of the user")
    hp.add_argument("email")
    hp.add_argument("--db", help="SQLite file of the hub (the domain database is next to it)")
    return p


def needed_extras(args: argparse.Namespace) -> tuple[str, ...]:
    """The extras (``pyproject.toml``) the command parsed into ``args`` needs.

    Parameters
    ----------
    args : argparse.Namespace
        What :func:`build_parser` parsed.

    Returns
    -------
    tuple of str
        Extra names, e.g. ``("hub",)``; the demo and ``lab up`` run everything
        on one machine, embedded broker included, so they need ``all``.
    """
    if args.command == "demo" or (args.command == "lab" and args.lab_command == "up"):
        return ("all",)
    if args.command in ("kit", "broker"):  # run on the hub, against its database and broker files
        return ("hub",)
    if args.command == "lab":  # lab packs hold edge pipelines and simulator scenarios
        return ("edge", "sim")
    return (args.command,)  # "sim", "edge", "hub" are extras of the same name


def command_words(args: argparse.Namespace) -> str:
    """The command as typed, without options: ``"teachfab hub run"``."""
    sub = getattr(args, f"{args.command}_command", None)
    return " ".join(["teachfab", args.command] + ([sub] if sub else []))


def missing_extra_message(command: str, extras: Sequence[str], exc: ModuleNotFoundError) -> str | None:
    """One line telling which extra to install, or None when ``exc`` is not a missing third-party module.

    Parameters
    ----------
    command : str
        The command that failed, e.g. ``"teachfab hub run"``.
    extras : sequence of str
        The extras that command needs (:func:`needed_extras`).
    exc : ModuleNotFoundError
        What the command's imports raised.

    Returns
    -------
    str or None
        The message; None when the missing module is unnamed or one of
        :data:`OUR_PACKAGES` (a broken TeachFab, which installing an extra
        would not mend).

    Examples
    --------
    >>> missing_extra_message("teachfab hub run", ["hub"], ModuleNotFoundError(name="fastapi"))
    "teachfab: 'teachfab hub run' needs the hub extra (no module named 'fastapi'): pip install 'teachfab[hub]'"
    >>> line = missing_extra_message("teachfab lab list", ["edge", "sim"], ModuleNotFoundError(name="numba.core"))
    >>> print(line)
    teachfab: 'teachfab lab list' needs the edge and sim extras (no module named 'numba.core'): pip install ...
    >>> line.endswith("pip install 'teachfab[edge,sim]'")
    True
    >>> missing_extra_message("teachfab hub run", ["hub"], ModuleNotFoundError(name="cloud.hub")) is None
    True
    """
    top = (exc.name or "").partition(".")[0]
    if not top or top in OUR_PACKAGES:
        return None
    names = " and ".join(extras) + (" extras" if len(extras) > 1 else " extra")
    return (f"teachfab: '{command}' needs the {names} (no module named '{exc.name}'): "
            f"pip install 'teachfab[{','.join(extras)}]'")


def main(argv: list[str] | None = None) -> int:
    """Run the ``teachfab`` command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(command_words(args), needed_extras(args), exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    """Dispatch the parsed command; return its exit code."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.verbose:
        # asyncua warns about every revised subscription parameter and the
        # absence of encryption on the local simulator; keep errors only
        logging.getLogger("asyncua").setLevel(logging.ERROR)
    try:
        if args.command == "demo":
            from teachfab.demo import DemoOptions
            from teachfab.demo import main as demo_main

            return demo_main(DemoOptions(duration=args.duration, broker=args.broker,
                                         http_port=args.http_port, fault_at=args.fault_at), args.json)
        if args.command == "sim":
            return _sim(args)
        if args.command == "edge" and args.edge_command == "replay":
            return _replay(args)
        if args.command == "edge" and args.edge_command == "install":
            from teachfab.edge_install import install

            installed = install(args.kit, args.root, args.package, start=args.start)
            print(f"next: {installed.teachfab} edge check {installed.config}")
            return 0
        if args.command == "edge" and args.edge_command == "check":
            return _edge_check(args)
        if args.command == "kit":
            return _kit(args)
        if args.command == "broker":
            return _broker_init(args)
        if args.command == "edge":
            from edge_agent.agent import EdgeAgent, load_edge_settings

            agent = EdgeAgent(load_edge_settings(args.config))
            asyncio.run(agent.run())
            return 0
        if args.command == "hub":
            return _hub(args)
        if args.command == "lab":
            return _lab(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"teachfab: error: {exc}", file=sys.stderr)
        return 2
    return 1


def _replay(args) -> int:
    from edge_agent.replay import ReplayOptions
    from edge_agent.replay import main as replay_main

    channel = int(args.channel) if args.channel.isdigit() else args.channel
    return replay_main(ReplayOptions(file=args.file, fs=args.fs, rpm=args.rpm, bearing=args.bearing, channel=channel,
                                     range=args.range, baseline=args.baseline, baseline_fs=args.baseline_fs,
                                     baseline_range=args.baseline_range, analysis_fs=args.analysis_fs,
                                     pipeline=args.pipeline, window=args.window), as_json=args.json,
                       report=args.report)


def _sim(args) -> int:
    if args.sim_command == "list":
        from simulators.scenario import list_examples

        for name in list_examples():
            print(name)
        return 0
    if args.sim_command == "run":
        from simulators.runner import ServeOptions
        from simulators.runner import main as run_main

        return run_main(args.scenario, ServeOptions(opcua_port=args.opcua, serial=args.serial, mqtt=args.mqtt,
                                                    duration_s=args.duration, ground_truth=args.ground_truth,
                                                    link_dir=args.link_dir))
    return asyncio.run(_sim_opcua(args))


async def _sim_opcua(args) -> int:
    from simulators.opcua_server import SimulatorServer
    from simulators.rotating_machine import FaultEvent, RotatingMachine

    faults = [FaultEvent("outer_race", start_s=args.fault_at)] if args.fault_at else []
    machine = RotatingMachine(args.asset, rpm=args.rpm, faults=faults, seed=args.seed)
    async with SimulatorServer([machine], port=args.port) as sim:
        print(f"OPC UA simulator at {sim.endpoint}; ground truth: {[e.as_dict() for e in sim.ground_truth()]}",
              flush=True)
        await asyncio.Event().wait()
    return 0


def _lab(args) -> int:
    from labs.packs import describe, list_packs, load_pack

    if args.lab_command == "list":
        for pack_id in list_packs():
            pack = load_pack(pack_id)
            print(f"{pack_id:<22} EQF {pack.meta.eqf_level}  {pack.meta.workload.ects:g} ECTS  "
                  f"{pack.scenario.scenario:<32} {pack.meta.title}")
        return 0
    if args.lab_command == "rehearse":
        from labs.rehearsal import main as rehearse_main

        return rehearse_main(args.pack, args.pipeline, args.duration, args.json)
    if args.lab_command == "up":
        from teachfab.lab_up import LabUpOptions
        from teachfab.lab_up import main as up_main

        return up_main(LabUpOptions(args.pack, args.speed, args.duration, args.broker, args.http_port,
                                    args.handover_dir, args.stay, args.credentials_dir, args.issuer_country),
                       args.json)
    print(describe(load_pack(args.pack)))
    return 0


def _edge_check(args) -> int:
    from edge_agent.agent import load_edge_settings
    from teachfab.edge_check import run_checks

    hub = args.hub
    if hub is None:
        with contextlib.suppress(Exception):  # a config that does not load is the first check's message
            hub = load_edge_settings(args.config).hub_url
    checks = run_checks(args.config, hub, args.timeout)
    for c in checks:
        print(c.line(colour=sys.stdout.isatty()))
    failed = [c.name for c in checks if not c.ok]
    print("ready: start the service" if not failed else f"{len(failed)} check(s) failed: {', '.join(failed)}")
    return 0 if not failed else 1


def _persistence_lines(out) -> str:
    """Mosquitto lines keeping sessions in ``out``, run as the user who owns ``out``.

    Started as root, Mosquitto switches to the user ``mosquitto``; if that user
    cannot write ``out`` it saves nothing at shutdown and every persistent
    session (the hub's queue) is lost on its restart. ``user`` names the
    owner of the directory, who can also read the password and ACL files.
    """
    import getpass

    return (f"persistence true\npersistence_location {out}/\n"
            f"# Mosquitto runs as this user when started as root: it must write {out}/\n"
            f"user {getpass.getuser()}\n")


def _broker_init(args) -> int:
    from pathlib import Path

    from cloud.onboarding.broker import BrokerFiles, mosquitto_config
    from cloud.onboarding.pki import create_ca, issue_server_cert

    out = Path(args.dir).resolve()
    listeners = []
    for spec in args.listen or ["127.0.0.1:8883" if not args.open else "127.0.0.1:1883"]:
        host, _, port = spec.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--listen {spec!r}: give HOST:PORT, e.g. 0.0.0.0:8883")
        listeners.append((host, int(port)))
    if args.open:
        conf = mosquitto_config(listeners, None, None)  # refuses anything beyond loopback
        tls = None
    else:
        if bool(args.ca_cert) != bool(args.ca_key):
            raise ValueError("--ca-cert and --ca-key go together")
        ca, key = (Path(args.ca_cert), Path(args.ca_key)) if args.ca_cert else create_ca(out / "pki")
        tls = issue_server_cert(ca, key, args.host or ["localhost", "127.0.0.1"], out / "pki")
        files = BrokerFiles(out / "passwd", out / "acl")
        files.write([])  # empty until the hub writes its own user and the kits' users
        conf = mosquitto_config(listeners, files.passwd_file, files.acl_file, tls=tls, pid_file=out / "mosquitto.pid",
                                extra=_persistence_lines(out))
    (out / "mosquitto.conf").parent.mkdir(parents=True, exist_ok=True)
    (out / "mosquitto.conf").write_text(conf)
    print(f"wrote {out / 'mosquitto.conf'}; run: mosquitto -c {out / 'mosquitto.conf'}")
    if tls is not None:
        host = (args.host or ["localhost"])[0]
        print("hub settings:\n"
              f"  TEACHFAB_HUB_BROKER=mqtts://{host}:{listeners[0][1]}\n"
              f"  TEACHFAB_HUB_BROKER_CA={(Path(args.ca_cert) if args.ca_cert else out / 'pki' / 'ca.pem')}\n"
              f"  TEACHFAB_HUB_BROKER_PASSWD_FILE={out / 'passwd'}\n  TEACHFAB_HUB_BROKER_ACL_FILE={out / 'acl'}\n"
              f"  TEACHFAB_HUB_BROKER_PID_FILE={out / 'mosquitto.pid'}\n"
              "  TEACHFAB_HUB_BROKER_USERNAME=tf-hub  TEACHFAB_HUB_BROKER_PASSWORD=<a long secret>")
    return 0


def _kit(args) -> int:
    from pathlib import Path

    import yaml

    from cloud.bootstrap import open_domain
    from cloud.commands.service import CommandSigner
    from cloud.hub import kit_service
    from cloud.onboarding.kits import public
    from cloud.onboarding.schemas import KitCreate
    from cloud.settings import HubSettings
    from edge_agent.agent import EdgeSettings

    settings = HubSettings(**({"db_path": args.db} if args.db else {}))
    kits = kit_service(settings, CommandSigner.from_settings(settings))
    engine, sessions = open_domain(settings)
    try:
        with sessions() as db:
            if args.kit_command == "revoke":
                kit = public(kits.revoke(db, args.kit_id))
                print(f"kit {kit.id} ({kit.site}/{kit.edge}, broker user {kit.username}) revoked at {kit.revoked_at}")
                return 0
            spec = yaml.safe_load(Path(args.spec).read_text(encoding="utf-8")) or {}
            body = KitCreate(site=args.site, edge=args.edge, sources=spec.get("sources", []),
                             pipelines=spec.get("pipelines", {}))
            # what the gateway will load: every source checked by its adapter before anything is issued
            EdgeSettings(site=args.site, edge_id=args.edge, pipelines=body.pipelines,
                         sources=[{"adapter": s.adapter, "asset": s.asset, **s.options} for s in body.sources])
            kit, archive = kits.create(db, body)
            out = Path(args.out or archive.filename)
            out.write_bytes(archive.data)
            out.chmod(0o600)
            print(f"kit {kit.id} for {args.site}/{args.edge}: {out} (short code {archive.short_code}); "
                  f"broker user {kit.username}")
            return 0
    except (LookupError, RuntimeError) as exc:  # an unknown site or kit; the broker could not be reloaded
        print(f"teachfab: error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def _read_password() -> str:
    """A new password from a prompt or stdin, checked like the API checks it (any mode)."""
    import getpass

    from cloud.accounts.security import password_problem

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if problem := password_problem(password):
        raise ValueError(f"the password {problem}")
    return password


def _hub_create_user(args) -> int:
    from cloud.accounts.service import create_user, update_user, user_by_email
    from cloud.database import make_engine, make_sessionmaker, upgrade_database
    from cloud.settings import HubSettings

    settings = HubSettings(**({"db_path": args.db} if args.db else {}))
    password = _read_password()
    engine = make_engine(settings.resolved_domain_url())
    upgrade_database(engine)
    with make_sessionmaker(engine)() as db:
        if args.hub_command == "set-password":
            user = user_by_email(db, args.email)
            if user is None:
                raise ValueError(f"no user {args.email!r}")
            update_user(db, user, password=password)
            print(f"new password set for user {user.id} {user.email}; their tokens are revoked")
        else:
            user = create_user(db, args.email, password, args.role, args.name, args.site)
            print(f"created user {user.id} {user.email} with roles {', '.join(sorted(args.role))}")
    engine.dispose()
    return 0


def _hub(args) -> int:
    if args.hub_command in ("create-user", "set-password"):
        return _hub_create_user(args)

    import uvicorn

    from cloud.hub import create_app
    from cloud.settings import HubSettings

    overrides = {k: v for k, v in (("broker", args.broker), ("db_path", args.db), ("http_port", args.port)) if v}
    settings = HubSettings(**overrides)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
