"""What a refresh is asked to do: the space, the suite, the budget, the gate and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from warmstart.benchmarks.runner import Protocol
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.refresh import GateSettings, SelectionSettings

__all__ = ["RefreshOptions"]


@dataclass(frozen=True)
class RefreshOptions:
    """The inputs of :func:`~warmstart.service.refresh.refresh_space`.

    Attributes:
        space: Search space (learner) name, e.g. ``lightgbm``.
        suite: Task suite the evaluations are drawn from, as for ``bench run``.
        models_dir: Where a published bundle's file is written.
        selection: Budget and caps of the evaluations (seeded).
        gate: How the new model is compared with the serving one, and how it is trained.
        protocol: How each evaluation is run (CV folds, row cap).
        workers: Local worker processes (when ``dask`` is not given).
        dask: A Dask scheduler address or ``local:N``; ``None``: local workers.
        time_limit: Wall seconds per evaluation.
        memory_limit: MiB per evaluation; 0: no limit.
        lock_ttl: Lease of the refresh lock in seconds, renewed between steps.
        feature_version: The meta-feature version trained on.
    """

    space: str
    suite: str
    models_dir: Path
    selection: SelectionSettings = field(default_factory=lambda: SelectionSettings(budget=50))
    gate: GateSettings = field(default_factory=GateSettings)
    protocol: Protocol = field(default_factory=Protocol)
    workers: int = 1
    dask: str | None = None
    time_limit: float = 300.0
    memory_limit: int = 4096
    lock_ttl: float = 6 * 3600.0
    feature_version: str = FEATURE_VERSION

    def check(self) -> None:
        """Raise :class:`InvalidRequestError` for values out of range (nothing has run yet)."""
        if self.workers < 1:
            raise InvalidRequestError(f"workers must be >= 1, got {self.workers}")
        if self.time_limit <= 0 or self.lock_ttl <= 0:
            raise InvalidRequestError(
                f"the time limit and the lock's lease must be > 0 s, got {self.time_limit:g} "
                f"and {self.lock_ttl:g}"
            )
        if self.memory_limit < 0:
            raise InvalidRequestError(f"the memory limit must be >= 0 MiB, got {self.memory_limit}")
        if self.protocol.holdout is None and self.protocol.folds < 2:
            raise InvalidRequestError(f"CV folds must be >= 2, got {self.protocol.folds}")
        self.selection.check()
        self.gate.check()
        self.gate.train.surrogate.check()
