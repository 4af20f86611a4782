"""Composition of transformers and a final detector, like river's ``compose.Pipeline``."""

from __future__ import annotations


class Chain:
    """Transformers followed by one final estimator, driven through river's protocol.

    river's ``compose.Pipeline`` only accepts river estimators as steps (it
    reads their ``_supervised`` flag and ``_get_params``), so it cannot hold
    the project's models without importing river into the edge agent. A
    ``Chain`` does for ``learn_one``/``score_one`` exactly what river's
    pipeline does for unsupervised steps: ``learn_one(x)`` updates each
    transformer with its input and passes on the transformed dict (the
    transformer learns *before* it transforms), and ``score_one(x)``
    transforms without learning. Steps are duck-typed, so river transformers
    and detectors can be steps too. ``a | b`` on project models builds one.

    Parameters
    ----------
    *steps
        Objects with ``learn_one`` and ``transform_one``, then a last step
        with ``learn_one`` and ``score_one``.

    Examples
    --------
    >>> import random
    >>> from edge_agent.models.scalers import MinMaxScaler
    >>> from edge_agent.models.hst import HalfSpaceTrees
    >>> model = MinMaxScaler() | HalfSpaceTrees(n_trees=5, height=4, window_size=20, seed=1)
    >>> rng = random.Random(3)
    >>> for _ in range(100):
    ...     model.learn_one({"rms": rng.gauss(10.0, 0.5), "kurt": rng.gauss(3.0, 0.2)})
    >>> normal = model.score_one({"rms": 10.0, "kurt": 3.0})
    >>> odd = model.score_one({"rms": 8.6, "kurt": 3.6})
    >>> normal < odd
    True
    >>> model
    Chain(MinMaxScaler(clip=False), HalfSpaceTrees(n_trees=5, height=4, window_size=20, limits=None, seed=1))
    """

    def __init__(self, *steps) -> None:
        if not steps:
            raise ValueError("Chain needs at least one step, got none")
        for i, step in enumerate(steps[:-1]):
            if not hasattr(step, "transform_one"):
                raise ValueError(f"step {i} ({type(step).__name__}) has no transform_one; "
                                 "only the last step may be a detector")
        self.steps = tuple(steps)

    @property
    def final(self):
        """The last step (the detector)."""
        return self.steps[-1]

    def transform_one(self, x: dict) -> dict:
        """Apply every transformer (without learning) and return the dict the final step sees."""
        for step in self.steps[:-1]:
            x = step.transform_one(x)
        return x

    def learn_one(self, x: dict) -> None:
        """Learn each transformer on its input, then the final step on the transformed dict."""
        for step in self.steps[:-1]:
            step.learn_one(x)
            x = step.transform_one(x)
        self.final.learn_one(x)

    def score_one(self, x: dict) -> float:
        """Score of the final step on the transformed observation (nothing learns)."""
        return self.final.score_one(self.transform_one(x))

    def clone(self, new_params: dict | None = None) -> "Chain":
        """A chain of clones of every step."""
        if new_params:
            raise ValueError(f"Chain.clone takes no new parameters, got {sorted(new_params)}")
        return Chain(*(step.clone() for step in self.steps))

    def __or__(self, other) -> "Chain":
        return Chain(*self.steps, other)

    def __repr__(self) -> str:
        return f"Chain({', '.join(repr(s) for s in self.steps)})"
