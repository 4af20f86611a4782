"""The small part of river's ``base.Base`` our models need, without importing river.

river's estimators inherit ``clone()``, ``_get_params()`` and a ``repr`` from
``river.base.Base``; importing river costs the edge agent ~130 MB of RSS, so
our models use this mixin instead. It reads the constructor signature and
expects every argument stored under its own name, as river does.
"""

from __future__ import annotations

import copy
import inspect
import math
import typing

from edge_agent.models.chain import Chain


class Estimator:
    """Mixin giving river-style ``clone``, ``_get_params``, ``repr`` and ``|``.

    ``a | b`` between project models builds a
    :class:`~edge_agent.models.chain.Chain`; with a river estimator on the
    left, river builds its own ``compose.Pipeline``, which accepts our models
    because they declare ``_supervised = False`` and river's ``clone``
    signature.

    Examples
    --------
    >>> class Mean(Estimator):
    ...     def __init__(self, warmup: int = 3):
    ...         self.warmup = warmup
    ...         self.n = 0
    >>> m = Mean(warmup=5)
    >>> m.n = 9
    >>> c = m.clone()
    >>> c, c.n
    (Mean(warmup=5), 0)
    >>> m.clone({"warmup": 7})
    Mean(warmup=7)
    """

    _supervised = False  # read by river's compose.Pipeline

    def _get_params(self) -> dict[str, typing.Any]:
        """Constructor arguments, read back from the attributes of the same name."""
        params = {}
        for name, p in inspect.signature(type(self)).parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            params[name] = getattr(self, name)
        return params

    def clone(self, new_params: dict | None = None, include_attributes: bool = False) -> "Estimator":
        """A fresh, unfitted copy with the same parameters (some overridden by ``new_params``).

        With ``include_attributes`` the learnt state is copied too (as in river).
        """
        if include_attributes:
            twin = copy.deepcopy(self)
            for k, v in (new_params or {}).items():
                setattr(twin, k, v)
            return twin
        params = copy.deepcopy(self._get_params())
        params.update(new_params or {})
        return type(self)(**params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._get_params().items())
        return f"{type(self).__name__}({args})"

    def __or__(self, other):
        return Chain(self, other)


def finite_or_none(v) -> float | None:
    """``float(v)`` if it is a finite number, else ``None`` (missing, NaN, inf, not a number).

    Examples
    --------
    >>> finite_or_none("2.5"), finite_or_none(float("nan")), finite_or_none(None)
    (2.5, None, None)
    """
    if type(v) is float:  # the common case, without a conversion: v - v is 0 unless v is NaN or ±inf
        return v if v - v == 0.0 else None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
