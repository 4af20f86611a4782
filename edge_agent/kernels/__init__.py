"""Numeric kernels of the edge: compiled ahead of time, or just in time as a fallback.

:func:`load` returns the kernels of :mod:`.source` as callables. It prefers
the extension module ``_aot`` built at install (``setup.py``) or by
``python -m edge_agent.kernels.build``: importing it does not import numba,
which keeps an edge agent's memory near that of numpy and its adapters
(docs/edge.md, "Kernels"). When the module is missing, was built from other
source, or fails to import, :func:`load` logs why once and compiles the same
source with ``numba.njit`` instead (results equal to rounding; tests/edge/
test_kernels_aot.py). ``TEACHFAB_KERNELS=jit`` forces the JIT path,
``TEACHFAB_KERNELS=aot`` refuses to fall back.

Examples
--------
>>> import numpy as np
>>> k = load()
>>> round(k.time_domain(np.array([1.0, -1.0, 1.0, -1.0]))[1], 3)
1.0
>>> mode() in ("aot", "jit")
True
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from pathlib import Path
from types import SimpleNamespace

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
#: Name of the ahead-of-time extension module inside this package.
MODULE = "_aot"
#: Stamp written beside the module by the build.
STAMP = "_aot.json"

_loaded: SimpleNamespace | None = None
_mode: str | None = None
_why_jit: str | None = None


#: The kernel source files (:mod:`.source` and the diagnosis kernels it compiles with it).
SOURCES = ("source.py", "source_diagnosis.py")


def source_digest() -> str:
    """SHA-256 of the kernel sources, recorded by the build and checked before the module is used."""
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((PACKAGE_DIR / name).read_bytes())
    return h.hexdigest()


def _compiled() -> tuple[SimpleNamespace | None, str | None]:
    """The AOT kernels, or ``None`` and why they cannot be used."""
    from edge_agent.kernels.source import EXPORTS

    try:
        stamp = json.loads((PACKAGE_DIR / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"no build stamp ({exc.__class__.__name__}: {exc})"
    if stamp.get("source_sha256") != source_digest():
        return None, f"{STAMP} was built from other kernel source; rebuild: python -m edge_agent.kernels.build"
    try:
        module = importlib.import_module(f"{__name__}.{MODULE}")
    except ImportError as exc:
        return None, f"the compiled module does not import ({exc})"
    missing = [n for n in EXPORTS if not hasattr(module, n)]
    if missing:
        return None, f"the compiled module lacks {missing}"
    return SimpleNamespace(**{n: getattr(module, n) for n in EXPORTS}), None


def load() -> SimpleNamespace:
    """The kernels (one attribute per name of :data:`~.source.EXPORTS`), loaded once per process.

    Raises
    ------
    RuntimeError
        With ``TEACHFAB_KERNELS=aot`` when the compiled module cannot be used.
    """
    global _loaded, _mode, _why_jit
    if _loaded is not None:
        return _loaded
    want = os.environ.get("TEACHFAB_KERNELS", "").strip().lower()
    if want not in ("", "aot", "jit"):
        raise RuntimeError(f"TEACHFAB_KERNELS must be 'aot', 'jit' or unset, got {want!r}")
    kernels, why = (None, "TEACHFAB_KERNELS=jit") if want == "jit" else _compiled()
    if kernels is not None:
        _loaded, _mode = kernels, "aot"
        return _loaded
    if want == "aot":
        raise RuntimeError(f"TEACHFAB_KERNELS=aot but the ahead-of-time kernels cannot be used: {why}")
    from edge_agent.kernels.compile import jit_kernels

    log.warning("kernels: compiling just in time with numba (%s); an ahead-of-time build takes less memory: "
                "python -m edge_agent.kernels.build", why)
    _loaded, _mode, _why_jit = SimpleNamespace(**jit_kernels()), "jit", why
    return _loaded


def mode() -> str | None:
    """``"aot"`` or ``"jit"`` once :func:`load` has run, else ``None``."""
    return _mode
