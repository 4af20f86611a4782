"""Build the ahead-of-time kernel module: ``python -m edge_agent.kernels.build [--backend pycc] [--out DIR]``.

Run by the setup hook at install (``setup.py``) and by hand after changing
:mod:`edge_agent.kernels.source` in a development checkout. It writes the
extension module ``_aot`` and a stamp ``_aot.json`` (digest of the kernel
source, backend, numba and numpy versions) into the package directory; the
loader uses the module only while the stamp's digest matches the source.

``--reuse DIR`` copies a module already built in ``DIR`` instead of
compiling (about 25 s on a 2-core machine) when its stamp says it was built
from the same kernel source by the same backend, numba, numpy and Python
for the same CPU target: a wheel built from a checkout whose editable
install compiled the kernels ships that module.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from edge_agent.kernels import MODULE, PACKAGE_DIR, STAMP, source_digest
from edge_agent.kernels.backend import BACKENDS


def _stamp(backend: str) -> dict:
    import llvmlite.binding
    import numba
    import numpy

    cpu = os.environ.get("TEACHFAB_KERNELS_CPU", "host")  # as the pycc backend reads it
    if cpu == "host":  # a module tuned to one CPU is reused only on that CPU
        cpu = f"host:{llvmlite.binding.get_host_cpu_name()}"
    return {"source_sha256": source_digest(), "backend": backend, "numba": numba.__version__,
            "numpy": numpy.__version__, "python": sys.version.split()[0], "cpu": cpu}


def reusable(directory: Path, backend: str = "pycc") -> Path | None:
    """The module in ``directory`` when its stamp matches what :func:`build` would write here, else ``None``.

    Examples
    --------
    >>> import tempfile
    >>> reusable(Path(tempfile.mkdtemp())) is None
    True
    """
    directory = Path(directory)
    module = directory / f"{MODULE}{sysconfig.get_config_var('EXT_SUFFIX')}"
    try:
        stamp = json.loads((directory / STAMP).read_text(encoding="utf-8"))
        current = _stamp(backend)
    except (OSError, ValueError, ImportError):  # no stamp, a broken one, or no numba to compare with
        return None
    return module if module.is_file() and stamp == current else None


def build(output_dir: Path = PACKAGE_DIR, backend: str = "pycc", reuse: Path | None = None) -> Path:
    """Compile every kernel into ``output_dir`` with ``backend``; the module's path.

    With ``reuse``, a module there that :func:`reusable` accepts is copied
    instead (with its stamp).

    Raises
    ------
    RuntimeError
        When the backend cannot build here (the reason is in the message).
    """
    output_dir = Path(output_dir)
    found = reusable(reuse, backend) if reuse is not None else None
    impl = BACKENDS[backend]()
    reason = None if found is not None else impl.missing()
    if reason:
        raise RuntimeError(f"cannot build the kernels with {backend}: {reason}")
    if found is not None and found.resolve() == (output_dir / found.name).resolve():
        return found
    output_dir.mkdir(parents=True, exist_ok=True)
    for old in output_dir.glob(f"{MODULE}.*.so"):  # a module of another Python version or an older build
        old.unlink()
    if found is not None:
        target = output_dir / found.name
        target.write_bytes(found.read_bytes())
    else:
        from edge_agent.kernels.compile import entry_points

        with tempfile.TemporaryDirectory() as tmp:  # pycc leaves object files in the current build tree
            path = impl.build(entry_points(), MODULE, Path(tmp))
            target = output_dir / path.name
            target.write_bytes(path.read_bytes())
    (output_dir / STAMP).write_text(json.dumps(_stamp(backend), indent=1) + "\n", encoding="utf-8")
    return target


def main(argv=None) -> int:
    """Command line: build, print where and how long; exit 1 with the reason when it cannot."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="pycc")
    ap.add_argument("--out", type=Path, default=PACKAGE_DIR, help="directory (default: the package's own)")
    ap.add_argument("--reuse", type=Path, help="copy the module built in this directory when its stamp matches")
    args = ap.parse_args(argv)
    started = time.monotonic()
    reused = args.reuse is not None and reusable(args.reuse, args.backend) is not None
    try:
        path = build(args.out, args.backend, args.reuse)
    except RuntimeError as exc:
        print(f"edge_agent.kernels.build: {exc}", file=sys.stderr)
        return 1
    how = f"reused from {args.reuse}" if reused else "compiled ahead of time"
    print(f"kernels {how} into {path} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
