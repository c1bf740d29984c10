"""Families of synthetic tasks from scikit-learn's generators, seeded and reproducible.

Tasks come in groups of ``per_family`` consecutive tasks. A group fixes the
generator (classification, regression, classification, friedman1 in turn) and
the task's shape (dimensionality, informative share, number of classes); its
members vary size, noise and class imbalance and have their own random draws. A
group is one family, so near-duplicates stay together when the evaluation
splits by family. Task ``i`` depends only on ``(seed, i, per_family)``:
``n=10`` gives the first 10 tasks of ``n=20``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import datasets

from warmstart.benchmarks.tasks._base import Suite, TaskData, TaskInfo
from warmstart.benchmarks.tasks._build import build_task_data
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import TaskType

__all__ = ["SyntheticSpec", "SyntheticSuite"]

MAX_TASKS = 10_000

# Groups take the generators in turn, so even a small suite mixes task types.
_GENERATORS = ("classification", "regression", "classification", "friedman1")
_N_FEATURES = (5, 10, 20, 50)
_INFORMATIVE_SHARE = (0.2, 0.5, 1.0)
_N_CLASSES = (2, 2, 3, 5)
_N_ROWS = (100, 200, 500, 1000, 2000)
_FLIP_Y = (0.0, 0.01, 0.05, 0.2)
_MINORITY_SHARE = (None, None, 0.2, 0.05)  # None: balanced classes
_NOISE = (0.0, 1.0, 10.0, 50.0)  # make_regression targets spread over hundreds
_FRIEDMAN_NOISE = (0.0, 0.5, 1.0, 3.0)  # Friedman #1 targets have a std of about 5


@dataclass(frozen=True)
class SyntheticSpec:
    """The parameters of one synthetic task (enough to regenerate it exactly)."""

    seed: int
    index: int
    generator: str  # "classification" | "regression" | "friedman1"
    family: str
    n_rows: int
    n_features: int
    n_informative: int
    n_classes: int | None
    flip_y: float
    minority_share: float | None
    noise: float
    random_state: int

    @property
    def task_type(self) -> TaskType:
        """The task type the generator produces."""
        if self.n_classes is None:
            return TaskType.REGRESSION
        return TaskType.BINARY if self.n_classes == 2 else TaskType.MULTICLASS


class SyntheticSuite(Suite):
    """``n`` synthetic tasks drawn from a seeded grid of generator parameters.

    Args:
        n: Number of tasks.
        seed: Seed of the draw: the same ``(n, seed, per_family)`` gives the
            same data and task ids on any machine.
        per_family: Tasks per family (group of near-duplicates).

    Raises:
        InvalidRequestError: ``n``, ``seed`` or ``per_family`` out of range.
    """

    kind = "synthetic"
    name = "synthetic"

    def __init__(self, n: int = 20, seed: int = 0, per_family: int = 3) -> None:
        if not 1 <= n <= MAX_TASKS:
            raise InvalidRequestError(f"synthetic suite: n must be in [1, {MAX_TASKS}], got {n}")
        if seed < 0:
            raise InvalidRequestError(f"synthetic suite: seed must be >= 0, got {seed}")
        if per_family < 1:
            raise InvalidRequestError(f"synthetic suite: per_family must be >= 1, got {per_family}")
        self.n, self.seed, self.per_family = n, seed, per_family
        self.specs = {spec_name(s): s for s in (self._spec(i) for i in range(n))}

    def describe(self) -> str:
        """Return a one-line description of the suite."""
        families = len({s.family for s in self.specs.values()})
        return (
            f"synthetic: {self.n} generated tasks in {families} families "
            f"(seed={self.seed}, per_family={self.per_family})"
        )

    def list_tasks(self) -> list[TaskInfo]:
        """List the tasks (all sizes are known from the parameters)."""
        return [
            TaskInfo(
                name=name,
                task_type=spec.task_type,
                family=spec.family,
                n_rows=spec.n_rows,
                n_features=spec.n_features,
                n_classes=spec.n_classes,
                synthetic=True,
            )
            for name, spec in self.specs.items()
        ]

    def load(self, name: str) -> TaskData:
        """Generate one task.

        Args:
            name: A name from :meth:`list_tasks`.

        Returns:
            The task (features ``x0 ... x{d-1}``, target ``target``).

        Raises:
            NotFoundError: No task of that name.
        """
        if name not in self.specs:
            raise self._unknown_task(name)
        spec = self.specs[name]
        X, y = generate(spec)
        return build_task_data(
            X,
            y,
            name=f"{self.name}/{name}",
            source=self.kind,
            family=spec.family,
            task_type=spec.task_type,
            extra_stats={"flip_y": spec.flip_y, "noise": spec.noise},
        )

    def _spec(self, index: int) -> SyntheticSpec:
        group = index // self.per_family
        shape = np.random.default_rng([self.seed, group, 0])
        generator = _GENERATORS[group % len(_GENERATORS)]
        n_features = int(shape.choice(_N_FEATURES))
        informative = max(1, round(n_features * float(shape.choice(_INFORMATIVE_SHARE))))
        n_classes: int | None = None
        if generator == "classification":
            n_classes = int(shape.choice(_N_CLASSES))
            # make_classification needs n_classes * clusters <= 2 ** n_informative.
            informative = max(informative, int(np.ceil(np.log2(n_classes))) + 1)
        elif generator == "friedman1":
            informative = 5  # Friedman #1 uses the first five features; the rest are noise
        family = f"{generator}-d{n_features}-i{informative}"
        if n_classes is not None:
            family += f"-c{n_classes}"
        member = np.random.default_rng([self.seed, group, 1 + index % self.per_family])
        noise = _NOISE if generator == "regression" else _FRIEDMAN_NOISE
        return SyntheticSpec(
            seed=self.seed,
            index=index,
            generator=generator,
            family=f"s{self.seed}-g{group}-{family}",
            n_rows=int(member.choice(_N_ROWS)),
            n_features=n_features,
            n_informative=informative,
            n_classes=n_classes,
            flip_y=float(member.choice(_FLIP_Y)) if n_classes else 0.0,
            minority_share=_choice_or_none(member, _MINORITY_SHARE) if n_classes else None,
            noise=float(member.choice(noise)) if n_classes is None else 0.0,
            random_state=int(member.integers(0, 2**31 - 1)),
        )


def spec_name(spec: SyntheticSpec) -> str:
    """Return the task name of a spec, e.g. ``"s0-003-classification"``."""
    return f"s{spec.seed}-{spec.index:03d}-{spec.generator}"


def generate(spec: SyntheticSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Generate a spec's data: features ``x0 ...`` and target ``target``."""
    if spec.n_classes is not None:
        X, y = datasets.make_classification(
            n_samples=spec.n_rows,
            n_features=spec.n_features,
            n_informative=spec.n_informative,
            n_redundant=min(spec.n_features - spec.n_informative, spec.n_informative // 2),
            n_classes=spec.n_classes,
            n_clusters_per_class=1,
            weights=_class_weights(spec.n_classes, spec.minority_share),
            flip_y=spec.flip_y,
            random_state=spec.random_state,
        )
    elif spec.generator == "regression":
        X, y = datasets.make_regression(
            n_samples=spec.n_rows,
            n_features=spec.n_features,
            n_informative=spec.n_informative,
            noise=spec.noise,
            random_state=spec.random_state,
        )
    else:
        X, y = datasets.make_friedman1(
            n_samples=spec.n_rows,
            n_features=spec.n_features,
            noise=spec.noise,
            random_state=spec.random_state,
        )
    columns = [f"x{j}" for j in range(spec.n_features)]
    return pd.DataFrame(X, columns=columns), pd.Series(y, name="target")


def _class_weights(n_classes: int, minority_share: float | None) -> list[float] | None:
    """Class shares decreasing geometrically so the smallest is ``minority_share``."""
    if minority_share is None:
        return None
    if n_classes == 2:
        return [1.0 - minority_share, minority_share]
    # Shares r**k, k = 0..n-1, normalised; pick r so the last share is the minority's.
    low, high = 1e-6, 1.0
    for _ in range(60):
        ratio = (low + high) / 2
        shares = ratio ** np.arange(n_classes)
        if shares[-1] / shares.sum() < minority_share:
            low = ratio
        else:
            high = ratio
    shares = ratio ** np.arange(n_classes)
    return [float(s) for s in shares / shares.sum()]


def _choice_or_none(rng: np.random.Generator, options: tuple[float | None, ...]) -> float | None:
    return options[int(rng.integers(len(options)))]
