"""Bearing diagnosis: kurtogram-chosen band, pre-whitened squared envelope, defect-family evidence.

:func:`diagnose_window` explains one window (what the edge does on an
alert), :func:`diagnose` a recording (what ``teachfab edge replay`` does).
See ``docs/diagnosis.md`` for the method and measured figures.

The names below load on first use (PEP 562): the method's numba kernels
are compiled just in time, and an edge agent imports this package with its
pipeline, so a process that never diagnoses an alert never imports numba
(its ahead-of-time feature kernels keep it at about 80 MB, docs/edge.md).
"""

import importlib

#: Public name → the module that defines it.
_WHERE = {"FAULTS": "evidence", "Family": "evidence", "Line": "evidence", "decide": "evidence",
          "Diagnosis": "method", "diagnose": "method", "diagnose_window": "method"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    """Import the defining module of ``name`` when it is first asked for."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
