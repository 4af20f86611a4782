"""Setuptools hook: compile the edge kernels ahead of time while the package is built.

All metadata is in pyproject.toml. After ``build_py`` copies the sources,
this runs ``python -m edge_agent.kernels.build`` (numba.pycc, from the
build requirements) so that the installed package carries the extension
module ``edge_agent/kernels/_aot.*.so`` and an edge agent never imports
numba (docs/edge.md, "Kernels"). An editable install builds it into the
source tree; a wheel built from a tree that holds a module whose stamp
matches ships that module instead of compiling again. When the build cannot run (no C compiler, say) the install
goes on and the agent compiles the kernels just in time, logging why.
``TEACHFAB_KERNELS_BUILD=0`` skips the step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class build_py_with_kernels(build_py):  # noqa: N801 (setuptools command naming)
    """``build_py`` followed by the ahead-of-time kernel build."""

    def run(self) -> None:
        """Copy the sources, then compile the kernels next to them."""
        super().run()
        if os.environ.get("TEACHFAB_KERNELS_BUILD", "1") == "0":
            return
        editable = getattr(self, "editable_mode", False)
        out = (ROOT if editable else Path(self.build_lib)) / "edge_agent" / "kernels"
        # keep the build environment's own path (pip's isolated build puts numba there)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
        # a wheel from a checkout whose editable install compiled the kernels ships that module when its
        # stamp matches (same kernel source, numba, numpy, Python): the build's 25 s once, not per install
        reuse = [] if editable else ["--reuse", str(ROOT / "edge_agent" / "kernels")]
        proc = subprocess.run([sys.executable, "-m", "edge_agent.kernels.build", "--out", str(out), *reuse],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            self.warn("edge kernels not compiled ahead of time (the agent will use numba's JIT): "
                      + (proc.stderr.strip().splitlines() or ["no output"])[-1])
        else:
            self.announce(proc.stdout.strip(), level=2)


class BinaryDistribution(Distribution):
    """Wheels carry a compiled module, so they are tagged for this platform and Python."""

    def has_ext_modules(self) -> bool:
        """Always: the kernel module (when it builds) is platform-specific."""
        return True


setup(cmdclass={"build_py": build_py_with_kernels}, distclass=BinaryDistribution)
