"""Per-service installs: an edge gateway gets ``teachfab[edge]`` and nothing of the hub.

The slow test builds a fresh virtual environment with only ``.[edge]``
installed (non-editable, from a copy of the source tree so no build output
lands in the repository), shows the hub's dependencies are absent there and
the kernels were compiled ahead of time at install (numba never imported),
and runs that environment's ``teachfab edge run`` against the OPC UA
simulator (served by this test venv in another process) and a real
Mosquitto: feature records arrive on the v1 contract's ``features`` topic.
The quick tests check the command line's side of it in this process.
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from contract.mqtt import make_client
from contract.payloads import FeaturesMsg, parse_message
from teachfab import cli

ROOT = Path(__file__).resolve().parents[2]
SITE, EDGE, ASSET = "lab", "edge-extras", "pump-1"
SCENARIO = "outer_race_early_detection"  # one pump-1 over OPC UA, 600 s (served longer below)
HUB_ONLY = ("fastapi", "sqlalchemy", "psycopg", "plotly")
EDGE_MODULES = ("contract", "edge_agent", "firmware_adapters", "edge_agent.agent", "firmware_adapters.opcua",
                "firmware_adapters.serial_line", "contract.signing")
PIP_TIMEOUT_S = 900      # a cold pip cache downloads numba, llvmlite, scipy, river
# the venv's first test builds it (pip, plus ~2 min of AOT kernel compile on a loaded 2-core machine)
pytestmark = pytest.mark.timeout(PIP_TIMEOUT_S + 300)
FIRST_FEATURES_S = 300   # first features of a fresh install (no JIT compile: the kernels are built at install)


# -- the command line, in this process ---------------------------------------------------------------

def test_cli_module_imports_only_the_standard_library():
    tree = ast.parse(Path(cli.__file__).read_text(encoding="utf-8"))
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top_level if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in top_level if isinstance(n, ast.ImportFrom)]
    outside = [m for m in names if m != "__future__" and m.partition(".")[0] not in sys.stdlib_module_names]
    assert not outside, f"teachfab/cli.py imports {outside} at top level; import them in the command that needs them"


def test_missing_third_party_module_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` now raises ModuleNotFoundError
    assert cli.main(["hub", "run"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["teachfab: 'teachfab hub run' needs the hub extra (no module named 'uvicorn'): "
                                "pip install 'teachfab[hub]'"]


def test_missing_module_of_teachfab_is_a_bug_not_an_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "simulators.scenario", None)
    with pytest.raises(ModuleNotFoundError) as raised:
        cli.main(["sim", "list"])
    assert raised.value.name == "simulators.scenario"


# -- a fresh edge-only install ------------------------------------------------------------------------

def _source_copy(dest: Path) -> Path:
    """Copy what a build of TeachFab reads (pyproject, README, the packages it lists) to ``dest``."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*").rstrip(".") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    dest.mkdir()
    for name in ("pyproject.toml", "setup.py", pyproject["project"]["readme"]):
        shutil.copy2(ROOT / name, dest / name)
    for package in sorted(packages):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _clean_env() -> dict[str, str]:
    """This environment minus what would leak the test venv or the repository into another interpreter."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="module")
def edge_venv(tmp_path_factory) -> Path:
    """A fresh venv with only ``teachfab[edge]`` installed; its ``bin`` directory."""
    work = tmp_path_factory.mktemp("edge-install")
    source = _source_copy(work / "src")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    started = time.monotonic()
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile",
                          f"{source}[edge]"],  # a path (not a bare name) so pip never looks it up on an index
                         cwd=work, env=_clean_env(), capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    if pip.returncode != 0:
        pytest.fail(f"pip install '.[edge]' into a fresh venv failed ({pip.returncode}):\n{pip.stderr[-4000:]}")
    print(f"fresh .[edge] venv installed in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return venv / "bin"


def _python(bin_dir: Path, code: str) -> subprocess.CompletedProcess:
    # cwd outside the repository: `python -c` puts the working directory first on sys.path
    return subprocess.run([str(bin_dir / "python"), "-c", code], cwd=bin_dir, env=_clean_env(),
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("module", HUB_ONLY)
def test_edge_install_lacks_hub_dependencies(edge_venv, module):
    proc = _python(edge_venv, f"import {module}")
    assert proc.returncode != 0, f"{module} is importable in an edge-only install"
    assert f"ModuleNotFoundError: No module named '{module}'" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.slow
def test_edge_install_has_the_edge_packages(edge_venv):
    proc = _python(edge_venv, "import " + ", ".join(EDGE_MODULES))
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_edge_install_runs_the_kernels_compiled_at_install_without_numba(edge_venv):
    proc = _python(edge_venv, "import sys, edge_agent.kernels as k, edge_agent.agent; k.load(); "
                              "print(k.mode(), 'numba' in sys.modules, k.PACKAGE_DIR)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    mode, numba_imported, where = proc.stdout.split()
    assert (mode, numba_imported) == ("aot", "False"), proc.stderr[-3000:]
    assert "site-packages" in where and list(Path(where).glob("_aot.*.so")), where


@pytest.mark.slow
@pytest.mark.parametrize(("command", "extra"), [
    (["hub", "run"], "hub"),
    (["hub", "create-user", "someone@lab.example", "--role", "mentor"], "hub"),
    (["lab", "up", "outer-race-early"], "all"),
    (["demo", "--duration", "5"], "all"),
])
def test_edge_install_says_which_extra_a_command_needs(edge_venv, command, extra):
    proc = subprocess.run([str(edge_venv / "teachfab"), *command], cwd=edge_venv, env=_clean_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]
    assert f"needs the {extra} extra (no module named '" in lines[0]
    assert lines[0].endswith(f"pip install 'teachfab[{extra}]'")


@contextlib.contextmanager
def _process(cmd: list[str], **kwargs):
    """Run ``cmd`` for the ``with`` block; terminate it (then kill it) on the way out."""
    proc = subprocess.Popen(cmd, **kwargs)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def _lines(stream) -> queue.Queue:
    """A queue receiving each line of ``stream`` (then None at its end), read by a daemon thread."""
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _adapter_configs(lines: queue.Queue, timeout: float) -> dict:
    """The JSON object ``teachfab sim run`` prints after "adapter configs for an edge agent's `sources`:"."""
    deadline = time.monotonic() + timeout
    seen, body = [], None
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no adapter configs from the simulator in {timeout} s; it printed {seen}") from None
        if line is None:
            raise RuntimeError(f"the simulator exited before printing its adapter configs; it printed {seen}")
        seen.append(line.rstrip())
        if body is None:
            if line.startswith("adapter configs for an edge agent"):
                body = ""
            continue
        body += line
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(body)


@pytest.fixture
def features_subscriber(mosquitto):
    """A queue of (topic, payload) of every ``features`` message of :data:`EDGE` on the test broker."""
    received: queue.Queue = queue.Queue()
    subscribed = threading.Event()
    client = make_client("test-extras-subscriber", "3.1.1")
    client.on_connect = lambda c, userdata, flags, rc, props: c.subscribe(f"tf/v1/{SITE}/{EDGE}/+/features", qos=1)
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, userdata, msg: received.put((msg.topic, msg.payload))
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        assert subscribed.wait(30), "the test subscriber got no SUBACK from Mosquitto in 30 s"
        yield received
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.slow
def test_edge_install_runs_agent_against_simulator_and_mosquitto(edge_venv, mosquitto, features_subscriber,
                                                                   tmp_path):
    sim_cmd = [sys.executable, "-m", "teachfab.cli", "sim", "run", SCENARIO, "--opcua", "0", "--duration", "3600"]
    with _process(sim_cmd, cwd=ROOT, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                  text=True) as sim:
        sources = _adapter_configs(_lines(sim.stdout), timeout=120)["opcua"]
        assert [s["asset"] for s in sources] == [ASSET]
        config = tmp_path / "edge.yaml"
        config.write_text(json.dumps({  # JSON is YAML
            "site": SITE, "edge_id": EDGE, "broker": mosquitto.url, "batch_s": 0.5,
            "state_dir": str(tmp_path / "edge-state"), "sources": sources,
            "pipelines": {ASSET: {"rpm": 1797, "bearing": "6205", "window": 4096, "warmup": 10}},
        }), encoding="utf-8")
        edge_log = tmp_path / "edge.log"
        with open(edge_log, "wb") as log, \
                _process([str(edge_venv / "teachfab"), "edge", "run", str(config)], cwd=tmp_path,
                         env={**_clean_env(), "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
                              "TEACHFAB_KERNELS": "aot"},  # refuse numba's JIT: fail unless built at install
                         stdout=log, stderr=subprocess.STDOUT) as edge:
            messages = []
            deadline = time.monotonic() + FIRST_FEATURES_S
            while len(messages) < 2:
                assert edge.poll() is None, (f"the edge agent exited ({edge.returncode}):\n"
                                             f"{edge_log.read_text()[-3000:]}")
                assert sim.poll() is None, f"the simulator exited ({sim.returncode})"
                remaining = deadline - time.monotonic()
                assert remaining > 0, (f"{len(messages)} features message(s) in {FIRST_FEATURES_S} s; edge log:\n"
                                       f"{edge_log.read_text()[-3000:]}")
                with contextlib.suppress(queue.Empty):
                    messages.append(parse_message(*features_subscriber.get(timeout=min(remaining, 0.5))))

    for message in messages:
        assert (message.kind, message.site, message.edge, message.asset) == ("features", SITE, EDGE, ASSET)
        assert isinstance(message.body, FeaturesMsg) and message.body.records
        for record in message.body.records:
            assert "rms" in record.features and "env_bpfo" in record.features, sorted(record.features)
            assert all(math.isfinite(v) for v in record.features.values()), record.features
    assert [m.body.seq for m in messages] == sorted(m.body.seq for m in messages)
