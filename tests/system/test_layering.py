"""Imports run one way (DESIGN.md, "Layering"): a test that fails when one breaks the direction.

Every ``import`` and ``from ... import`` of the project's packages is parsed
with :mod:`ast` (module level and inside functions alike) and checked
against the layers below. A function-level import is allowed only for a
reason the layering does not cover (an optional extra, start-up time of a
command); it must never dodge a cycle, and since it is checked like any
other import here, it cannot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Which project packages each package may import (besides itself).
ALLOWED = {
    "contract": set(),
    "firmware_adapters": {"contract"},
    "edge_agent": {"contract", "firmware_adapters"},
    "simulators": {"contract", "firmware_adapters", "edge_agent"},
    "labs": {"contract", "firmware_adapters", "edge_agent", "simulators"},
    "cloud": {"contract", "labs", "edge_agent"},
    "teachfab": {"contract", "firmware_adapters", "edge_agent", "simulators", "labs", "cloud"},
}
#: Narrower rules inside an allowed pair: the only modules ``importer`` may take from ``imported``.
ONLY = {
    ("simulators", "edge_agent"): {"edge_agent.bearings"},  # the bearing catalogue, shared with the diagnosis
    ("cloud", "edge_agent"): {"edge_agent.pipeline"},  # the declared pipeline, to refuse a bad deploy before signing
}
#: Areas of the hub, lowest first; an area imports only areas of a lower rank.
CLOUD_RANKS = {
    "database": 0, "errors": 0, "scope": 0, "guard": 0, "access": 1,  # the base every area builds on
    "sites": 2, "telemetry": 2,
    "accounts": 3, "ingest": 3,
    "commands": 4,
    "challenges": 5,
    "skills": 6,  # consumes outcomes and evidence; challenges reach it only through the hooks the hub wires
    "credentials": 7,  # issues the catalogue's micro-credentials from signed-off outcomes, raises skill levels
    "onboarding": 8, "handover": 8, "learnflow": 8,  # starter kits and broker access; close-of-challenge packages; units on live events
    "kpis": 9,  # outcome figures over everything below
    "governance": 10,  # retention, a learner's export and erasure, the access log: reach into every area
    "settings": 11, "bootstrap": 12, "tables": 12, "migrations": 13, "hub": 13,  # composition of the hub
}


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "node_modules" not in p.parts)


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(dotted: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a project package in ``source`` (relative ones resolved).

    Examples
    --------
    >>> imports_of("edge_agent.x", "from contract.commands import parse_command\\nimport numpy")
    [(1, 'contract.commands')]
    """
    tree = ast.parse(source)
    here = dotted.split(".")
    package = here if is_package else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # "from pkg import mod" may name a submodule: check the deepest name that exists
            found += [(node.lineno, _resolve(module, a.name)) for a in node.names]
    return sorted({(line, m) for line, m in found if m.split(".")[0] in ALLOWED})


def _resolve(module: str, name: str) -> str:
    candidate = f"{module}.{name}"
    path = ROOT.joinpath(*candidate.split("."))
    return candidate if path.with_suffix(".py").exists() or (path / "__init__.py").exists() else module


def check_module(dotted: str, source: str, is_package: bool = False) -> list[str]:
    """What is wrong with the imports of module ``dotted`` (empty when they follow the layers)."""
    out = []
    package = dotted.split(".")[0]
    for line, module in imports_of(dotted, source, is_package):
        top = module.split(".")[0]
        where = f"{dotted}:{line} imports {module}"
        if top == package:
            out += _cloud_problems(dotted, module, where) if package == "cloud" else []
        elif top not in ALLOWED[package]:
            out.append(f"{where}: {package} may import only {sorted(ALLOWED[package]) or 'nothing of TeachFab'}")
        elif (package, top) in ONLY and not any(module == m or module.startswith(m + ".")
                                                for m in ONLY[package, top]):
            out.append(f"{where}: {package} may take from {top} only {sorted(ONLY[package, top])}")
    return out


def _cloud_problems(dotted: str, module: str, where: str) -> list[str]:
    area, target = (dotted.split(".") + [""])[1], (module.split(".") + [""])[1]
    if not area or area == target or not target:
        return []
    if area not in CLOUD_RANKS or target not in CLOUD_RANKS:
        return [f"{where}: give area {area if area not in CLOUD_RANKS else target!r} a rank in CLOUD_RANKS"]
    if CLOUD_RANKS[target] >= CLOUD_RANKS[area]:
        return [f"{where}: hub area {area} (rank {CLOUD_RANKS[area]}) may import only lower areas, "
                f"not {target} (rank {CLOUD_RANKS[target]})"]
    return []


def _violations() -> list[str]:
    return [problem for package in ALLOWED for path in _modules(package)
            for problem in check_module(_dotted(path), path.read_text(encoding="utf-8"), path.name == "__init__.py")]


def test_imports_run_one_way():
    assert _violations() == []


def test_nothing_imports_the_composing_commands():
    users = [f"{path.relative_to(ROOT)}:{line}" for pkg in ALLOWED if pkg != "teachfab" for path in _modules(pkg)
             for line, m in imports_of(_dotted(path), path.read_text(encoding="utf-8")) if m.startswith("teachfab")]
    assert users == []


@pytest.mark.parametrize("module, source", [
    ("edge_agent.x", "from simulators.scenario import load_scenario"),
    ("cloud.challenges.x", "from teachfab.lab_up import provision"),
    ("labs.x", "def f():\n    from cloud.challenges import ledger"),  # inside a function counts too
    ("cloud.sites.x", "from cloud.challenges.models import Challenge"),
    ("cloud.accounts.x", "from ..challenges import scope"),
    ("cloud.x", "from edge_agent.agent import EdgeAgent"),
    ("simulators.x", "from edge_agent.pipeline import PipelineConfig"),
    ("contract.x", "import edge_agent"),
])
def test_the_checker_catches_a_wrong_import(module, source):
    assert check_module(module, source)


def test_the_checker_accepts_the_allowed_ones():
    assert check_module("cloud.challenges.x", "from cloud.sites import service\nfrom labs.packs import load_pack\n"
                                              "from edge_agent.pipeline import PipelineConfig") == []
