"""Name → factory registries for models, scalers and thresholds, checking parameters.

river estimators are registered by dotted path and imported only when a
factory is called, so the edge agent does not load river (≈130 MB RSS with
scipy) unless a pipeline names a ``river.*`` model.
"""

from __future__ import annotations

import importlib
import inspect


class Factory:
    """Build an estimator from keyword parameters, rejecting unknown ones by name.

    Parameters
    ----------
    target : type or str
        The class, or ``"module:Class"`` imported on first use.

    Examples
    --------
    >>> f = Factory("edge_agent.models.thresholds:FixedThreshold")
    >>> f(value=2.0)
    FixedThreshold(value=2.0)
    >>> f(valu=2.0)
    Traceback (most recent call last):
    ...
    ValueError: FixedThreshold: unknown parameter 'valu'; expected one of ['value']
    """

    def __init__(self, target) -> None:
        self.target = target

    def resolve(self) -> type:
        """The class (imported now if registered by path)."""
        if isinstance(self.target, str):
            module, _, name = self.target.partition(":")
            return getattr(importlib.import_module(module), name)
        return self.target

    def parameters(self) -> list[str]:
        """Names of the keyword parameters the class accepts."""
        sig = inspect.signature(self.resolve())
        return [n for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def __call__(self, **params):
        cls = self.resolve()
        known = self.parameters()
        for name in params:
            if name not in known:
                raise ValueError(f"{cls.__name__}: unknown parameter {name!r}; expected one of {known}")
        try:
            return cls(**params)
        except (TypeError, ValueError, AssertionError) as exc:  # river validates with asserts too
            raise ValueError(f"{cls.__name__}: invalid parameters {params!r}: {exc}") from exc

    def __repr__(self) -> str:
        target = self.target if isinstance(self.target, str) else self.target.__name__
        return f"Factory({target!r})"


def build(registry: dict, kind: str, name: str, **params):
    """Look ``name`` up in ``registry`` and build it, with a clear error for an unknown name.

    Examples
    --------
    >>> from edge_agent.models import MODELS
    >>> build(MODELS, "model", "hst", n_trees=5, seed=1)
    HalfSpaceTrees(n_trees=5, height=8, window_size=250, limits=None, seed=1)
    >>> build(MODELS, "model", "isolation_forest")
    Traceback (most recent call last):
    ...
    ValueError: unknown model 'isolation_forest'; known: ['ewma', 'hotelling', 'hst', 'river.hst', 'river.loda', 'zscore']
    """
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; known: {sorted(registry)}")
    return registry[name](**params)
