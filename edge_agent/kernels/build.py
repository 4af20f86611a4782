"""Build the ahead-of-time kernel module: ``python -m edge_agent.kernels.build [--backend pycc] [--out DIR]``.

Run by the setup hook at install (``setup.py``) and by hand after changing
:mod:`edge_agent.kernels.source` in a development checkout. It writes the
extension module ``_aot`` and a stamp ``_aot.json`` (digest of the kernel
source, backend, numba and numpy versions) into the package directory; the
loader uses the module only while the stamp's digest matches the source.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from edge_agent.kernels import MODULE, PACKAGE_DIR, STAMP, source_digest
from edge_agent.kernels.backend import BACKENDS


def build(output_dir: Path = PACKAGE_DIR, backend: str = "pycc") -> Path:
    """Compile every kernel into ``output_dir`` with ``backend``; the module's path.

    Raises
    ------
    RuntimeError
        When the backend cannot build here (the reason is in the message).
    """
    impl = BACKENDS[backend]()
    reason = impl.missing()
    if reason:
        raise RuntimeError(f"cannot build the kernels with {backend}: {reason}")
    import numba
    import numpy

    from edge_agent.kernels.compile import entry_points

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for old in output_dir.glob(f"{MODULE}.*.so"):  # a module of another Python version or an older build
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:  # pycc leaves object files in the current build tree
        path = impl.build(entry_points(), MODULE, Path(tmp))
        target = output_dir / path.name
        target.write_bytes(path.read_bytes())
    (output_dir / STAMP).write_text(json.dumps({
        "source_sha256": source_digest(), "backend": backend, "numba": numba.__version__,
        "numpy": numpy.__version__, "python": sys.version.split()[0]}, indent=1) + "\n", encoding="utf-8")
    return target


def main(argv=None) -> int:
    """Command line: build, print where and how long; exit 1 with the reason when it cannot."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="pycc")
    ap.add_argument("--out", type=Path, default=PACKAGE_DIR, help="directory (default: the package's own)")
    args = ap.parse_args(argv)
    started = time.monotonic()
    try:
        path = build(args.out, args.backend)
    except RuntimeError as exc:
        print(f"edge_agent.kernels.build: {exc}", file=sys.stderr)
        return 1
    print(f"kernels compiled ahead of time into {path} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
