"""A real hub process to fuzz: its own SQLite database, a Mosquitto broker, a user and a token per role.

Shared by the bounded fuzz test (tests/hub/test_api_fuzz.py) and the longer
run in benchmarks/bench_api_fuzz.py. The hub runs as ``teachfab hub run``
in a subprocess on a free port, so what schemathesis talks to is the same
program an operator starts.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from cloud.access import Role
from contract.signing import generate_keypair, save_private_key
from tests.servers import Mosquitto, free_port
from tests.waiting import port_open, wait_until

ADMIN = {"email": "fuzz-ops@hub.example", "password": "fuzzing-operator-passphrase"}
PASSWORD = "fuzzing-role-passphrase"
#: Operations left out: the endless event stream, what would revoke or change the tokens in use, and
#: starting lab sessions (each spawns a simulator and an edge process; tests/learning cover them).
EXCLUDED = [("GET", "/api/stream"), ("POST", "/api/auth/logout"), ("PATCH", "/api/users/{user_id}"),
            ("POST", "/api/auth/password"), ("POST", "/api/challenges/{challenge_id}/sessions")]


@contextlib.contextmanager
def fuzz_hub(workdir: Path) -> Iterator[tuple[str, dict[Role, str]]]:
    """Run a hub with seed data; yield its base URL and a bearer token per role."""
    broker = Mosquitto(workdir)
    port = free_port()
    save_private_key(generate_keypair()[0], workdir / "hub-key.pem")  # commands signed, as in production
    env = {**os.environ, "TEACHFAB_HUB_COMMAND_KEY": str(workdir / "hub-key.pem"), "TEACHFAB_HUB_ADMIN_EMAIL": ADMIN["email"], "TEACHFAB_HUB_ADMIN_PASSWORD": ADMIN["password"],
           "TEACHFAB_HUB_STATE_DIR": str(workdir / "state"), "TEACHFAB_HUB_LOGIN_FAILURES_PER_ADDRESS": "1000000"}
    log = open(workdir / "hub.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "teachfab.cli", "hub", "run", "--port", str(port),
                             "--db", str(workdir / "hub.sqlite"), "--broker", broker.url],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, 90, what="the hub listening")
        assert proc.poll() is None, (workdir / "hub.log").read_text()[-3000:]
        url = f"http://127.0.0.1:{port}"
        yield url, _seed(url)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        broker.stop()


def _seed(url: str) -> dict[Role, str]:
    """Sites, assets, a team and a challenge, and one user per role; their tokens."""
    with httpx.Client(base_url=url, timeout=60) as http:
        def token(email: str, password: str) -> str:
            r = http.post("/api/auth/token", data={"username": email, "password": password})
            return r.raise_for_status().json()["access_token"]

        ops = {"Authorization": f"Bearer {token(ADMIN['email'], ADMIN['password'])}"}
        http.post("/api/sites", headers=ops, json={"slug": "plant-a", "name": "Plant A", "kind": "sme"}).raise_for_status()
        http.post("/api/sites", headers=ops, json={"slug": "lab", "name": "Lab", "kind": "lab"}).raise_for_status()
        http.post("/api/sites/plant-a/assets", headers=ops, json={"name": "press-1"}).raise_for_status()
        http.post("/api/sites/plant-a/assets/press-1/sensors", headers=ops,
                  json={"channel": "vib", "units": "g", "rate_hz": 12000}).raise_for_status()
        http.post("/api/sites/plant-a/edges", headers=ops, json={"edge_id": "gw-a"}).raise_for_status()
        tokens = {Role.hub_operator: ops["Authorization"].split()[1]}
        for role in Role:
            if role is Role.hub_operator:
                continue
            email = f"fuzz-{role.value}@hub.example"
            http.post("/api/users", headers=ops, json={"email": email, "password": PASSWORD, "roles": [role.value],
                                                       "sites": ["plant-a"] if role is Role.sme_partner else []}
                      ).raise_for_status()
            tokens[role] = token(email, PASSWORD)
        me = {r: http.get("/api/auth/me", headers={"Authorization": f"Bearer {t}"}).json()["id"]
              for r, t in tokens.items()}
        team = http.post("/api/teams", headers=ops, json={"name": "Team Fuzz", "members": [me[Role.learner]]})
        http.post("/api/challenges", headers=ops, json={
            "name": "Fuzzed", "site": "lab", "pack": "outer-race-early", "teams": [team.raise_for_status().json()["id"]],
            "mentors": [me[Role.mentor]], "academic_assessors": [me[Role.assessor]]}).raise_for_status()
        return tokens


def fuzz(url: str, tokens: dict[Role, str], examples: int, every_role: bool = True) -> dict:
    """Fuzz every operation of ``url``'s OpenAPI (valid and invalid inputs) with the roles' tokens.

    Each case is sent with every role's token, or (``every_role=False``, to
    keep a test short) with the next role's in turn, so every role still
    meets every kind of operation across the run. Returns ``{"operations",
    "requests", "by_role", "failures": [text]}``; a failure is a 5xx or a
    response that does not match the documented schema.
    """
    import itertools
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error, response_schema_conformance

    doc = httpx.get(f"{url}/openapi.json", timeout=120).raise_for_status().json()
    schema = schemathesis.openapi.from_dict(doc)
    for method, path in EXCLUDED:
        schema = schema.exclude(method=method, path=path)
    stats = {"operations": 0, "requests": 0, "by_role": dict.fromkeys(tokens, 0), "failures": []}
    turn = itertools.cycle(tokens)
    for result in schema.get_all_operations():
        operation = result.ok()
        stats["operations"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate],  # report the failure found, do not shrink it
                      suppress_health_check=list(HealthCheck))
            def run(case) -> None:
                for role in (tokens if every_role else [next(turn)]):
                    token = tokens[role]
                    stats["requests"] += 1
                    stats["by_role"][role] += 1
                    case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                           checks=[not_a_server_error, response_schema_conformance], timeout=60)

            try:
                run()
            except Unsatisfiable:  # no invalid input exists (an operation without parameters)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # one report per operation and mode; the others go on
                stats["failures"].append(f"{operation.method.upper()} {operation.path} ({mode.value}): "
                                         f"{type(exc).__name__}: {str(exc)[:1500]}")
    return stats
