"""scikit-learn's bundled datasets as a task suite (shipped with the library, no download).

Families follow the PMLB manifest where the data are the same (scikit-learn's
``breast_cancer`` is PMLB's ``breast_cancer_wisconsin``, ``wine`` is
``wine_recognition``, ``digits`` is part of ``optdigits``), so a family split
over both suites keeps copies of one dataset on the same side. scikit-learn's
``diabetes`` (a regression) is not PMLB's ``diabetes`` (Pima) and gets its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sklearn import datasets

from warmstart.benchmarks.tasks._base import Suite, TaskData, TaskInfo
from warmstart.benchmarks.tasks._build import build_task_data
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import TaskType

__all__ = ["SKLEARN_DATASETS", "SklearnSuite"]


@dataclass(frozen=True)
class _Bundled:
    loader: Callable[..., Any]
    info: TaskInfo


def _bundled(
    name: str,
    loader: Callable[..., Any],
    task_type: TaskType,
    n_rows: int,
    n_features: int,
    n_classes: int | None,
    family: str,
) -> tuple[str, _Bundled]:
    info = TaskInfo(name, task_type, family, n_rows, n_features, n_classes, synthetic=False)
    return name, _Bundled(loader, info)


SKLEARN_DATASETS: dict[str, _Bundled] = dict(
    [
        _bundled("iris", datasets.load_iris, TaskType.MULTICLASS, 150, 4, 3, "iris"),
        _bundled("wine", datasets.load_wine, TaskType.MULTICLASS, 178, 13, 3, "wine_recognition"),
        _bundled(
            "breast_cancer", datasets.load_breast_cancer, TaskType.BINARY, 569, 30, 2, "breast"
        ),
        _bundled("digits", datasets.load_digits, TaskType.MULTICLASS, 1797, 64, 10, "optdigits"),
        _bundled(
            "diabetes",
            datasets.load_diabetes,
            TaskType.REGRESSION,
            442,
            10,
            None,
            "sklearn_diabetes",
        ),
    ]
)
"""The bundled datasets with a single target (``linnerud`` has three and is left out)."""


class SklearnSuite(Suite):
    """scikit-learn's bundled datasets: iris, wine, breast_cancer, digits, diabetes.

    Args:
        names: The datasets to include (default: all of :data:`SKLEARN_DATASETS`).

    Raises:
        InvalidRequestError: A name that is not a bundled dataset.
    """

    kind = "sklearn"
    name = "sklearn"

    def __init__(self, names: Iterable[str] | None = None) -> None:
        chosen = list(SKLEARN_DATASETS) if names is None else list(dict.fromkeys(names))
        unknown = [n for n in chosen if n not in SKLEARN_DATASETS]
        if unknown or not chosen:
            raise InvalidRequestError(
                f"sklearn suite: unknown dataset(s) {unknown!r}; "
                f"choose from {', '.join(SKLEARN_DATASETS)}"
            )
        self._names = chosen

    def describe(self) -> str:
        """Return a one-line description of the suite."""
        return f"sklearn: {len(self._names)} bundled datasets ({', '.join(self._names)})"

    def list_tasks(self) -> list[TaskInfo]:
        """List the chosen datasets (sizes are known without loading)."""
        return [SKLEARN_DATASETS[name].info for name in self._names]

    def load(self, name: str) -> TaskData:
        """Load one bundled dataset.

        Args:
            name: A dataset name, e.g. ``"iris"``.

        Returns:
            The task and its data (float features, integer or float target).

        Raises:
            NotFoundError: Not one of the suite's datasets.
        """
        if name not in self._names:
            raise self._unknown_task(name)
        bundled = SKLEARN_DATASETS[name]
        X, y = bundled.loader(return_X_y=True, as_frame=True)
        return build_task_data(
            X,
            y.rename("target"),
            name=f"{self.name}/{name}",
            source=self.kind,
            family=bundled.info.family,
            task_type=bundled.info.task_type,
        )
