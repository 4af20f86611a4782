"""Turn :mod:`edge_agent.kernels.source` into numba functions (shared by the JIT path and the AOT build)."""

from __future__ import annotations

import types

from edge_agent.kernels import source


def _copy(name: str, namespace: dict) -> types.FunctionType:
    """A copy of ``source.<name>`` whose globals are ``namespace`` (so its callees are compiled ones)."""
    f = getattr(source, name)
    g = types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, f.__closure__)
    g.__qualname__, g.__module__, g.__doc__ = f.__qualname__, f.__module__, f.__doc__
    return g


def numba_namespace(cache: bool = True) -> dict:
    """``source``'s globals with every helper replaced by a ``numba.njit`` dispatcher.

    Parameters
    ----------
    cache : bool
        Keep compiled code on disk (``NUMBA_CACHE_DIR`` or ``__pycache__``).

    Returns
    -------
    dict
        A module namespace in which each name of :data:`~edge_agent.kernels.source.HELPERS`
        is compiled; copies of the entry points made over it call compiled helpers.
    """
    import numba  # only the JIT path and the build import numba

    namespace = dict(vars(source))
    for name in source.HELPERS:
        namespace[name] = numba.njit(cache=cache, nogil=True, fastmath=name in source.FASTMATH)(
            _copy(name, namespace))
    return namespace


def jit_kernels(cache: bool = True) -> dict:
    """Every entry point of :data:`~edge_agent.kernels.source.EXPORTS` as a lazily compiled dispatcher."""
    import numba

    namespace = numba_namespace(cache)
    return {name: namespace[name] if name in source.HELPERS else
            numba.njit(cache=cache, nogil=True, fastmath=name in source.FASTMATH)(_copy(name, namespace))
            for name in source.EXPORTS}


def entry_points() -> dict:
    """``name -> (function, signature)`` of the entry points, their callees compiled (for an AOT backend)."""
    namespace = numba_namespace(cache=False)
    return {name: (_copy(name, namespace), sig) for name, sig in source.EXPORTS.items()}
