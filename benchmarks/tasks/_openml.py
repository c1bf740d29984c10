"""OpenML datasets and tasks by id: from a local cache, or through openml-python.

With ``cache`` set, nothing touches the network: files are read where
openml-python caches them (``cache`` may be openml-python's cache directory or
its ``org/openml/www`` folder):

    <cache>/org/openml/www/datasets/<id>/description.xml   name, default target
    <cache>/org/openml/www/datasets/<id>/dataset.arff      the data
    <cache>/org/openml/www/tasks/<id>/task.xml              dataset id, target, type

Without ``cache``, openml-python (the optional ``openml`` extra) downloads and
caches them itself. Tasks are named ``d<id>`` (dataset) and ``t<id>`` (task);
the family is the dataset's name, so versions of one dataset share a family.
Row-id and ignored attributes are not features.
"""

from __future__ import annotations

import importlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from warmstart.benchmarks.tasks._arff import read_arff
from warmstart.benchmarks.tasks._base import Suite, TaskData, TaskInfo
from warmstart.benchmarks.tasks._build import build_task_data, split_target
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError, NotFoundError

__all__ = ["OpenMLSuite", "import_openml"]

_NS = {"oml": "http://openml.org/openml"}
_CLASSIFICATION, _REGRESSION = 1, 2  # OpenML task type ids
_DATASET_ID = "oml:input/oml:data_set/oml:data_set_id"
_INSTALL_HINT = "pip install 'warmstart[openml]'"


def import_openml() -> ModuleType:
    """Import openml-python, which is an optional extra.

    Raises:
        FailedPreconditionError: openml-python is not installed (says how to install it).
    """
    try:
        return importlib.import_module("openml")
    except ImportError as exc:
        raise FailedPreconditionError(
            f"loading OpenML datasets without a local cache needs openml-python, which is "
            f"not installed ({exc}); install it with {_INSTALL_HINT}, or pass cache=DIR "
            "to read an OpenML cache folder"
        ) from None


@dataclass(frozen=True)
class _Source:
    """What to load for one entry: a dataset, with the target and type a task fixes."""

    dataset_id: int
    target: str | None
    classification: bool | None


class OpenMLSuite(Suite):
    """OpenML datasets and tasks, by id.

    Args:
        dataset_ids: OpenML dataset ids (tasks ``d<id>``; the dataset's default target).
        task_ids: OpenML supervised task ids (tasks ``t<id>``; the task's target).
        cache: Read from this openml-python cache folder only (no network).
        target: Target column for every dataset, instead of its default one.

    Raises:
        InvalidRequestError: No ids, or a missing cache folder.
        FailedPreconditionError: No cache given and openml-python not installed.
    """

    kind = "openml"
    name = "openml"

    def __init__(
        self,
        dataset_ids: Iterable[int] = (),
        task_ids: Iterable[int] = (),
        *,
        cache: str | Path | None = None,
        target: str | None = None,
    ) -> None:
        self.dataset_ids = list(dict.fromkeys(int(i) for i in dataset_ids))
        self.task_ids = list(dict.fromkeys(int(i) for i in task_ids))
        if not self.dataset_ids and not self.task_ids:
            raise InvalidRequestError(
                "openml suite: give dataset ids (ids=61,554) or task ids (tasks=59)"
            )
        if any(i <= 0 for i in self.dataset_ids + self.task_ids):
            raise InvalidRequestError("openml suite: ids must be positive integers")
        self.target = target
        self.cache = None if cache is None else _cache_root(Path(cache).expanduser())
        self._openml = import_openml() if self.cache is None else None
        self._names = [f"d{i}" for i in self.dataset_ids] + [f"t{i}" for i in self.task_ids]

    def describe(self) -> str:
        """Return a one-line description of the suite."""
        where = f"cache {self.cache}" if self.cache else "openml-python"
        return (
            f"openml: {len(self.dataset_ids)} datasets and {len(self.task_ids)} tasks from {where}"
        )

    def list_tasks(self) -> list[TaskInfo]:
        """List the ids (with the dataset's name as family when the cache has it)."""
        return [
            TaskInfo(name=name, family=self._cached_dataset_name(name), synthetic=False)
            for name in self._names
        ]

    def _cached_dataset_name(self, name: str) -> str | None:
        """Return the dataset's name if the cache holds its description, else ``None``."""
        if self.cache is None:
            return None
        dataset_id: str | None = name[1:]
        if name.startswith("t"):
            task = self.cache / "tasks" / name[1:] / "task.xml"
            root = _parse_xml(task) if task.is_file() else None
            dataset_id = None if root is None else _xml_text(root, _DATASET_ID)
        description = self.cache / "datasets" / str(dataset_id) / "description.xml"
        if dataset_id is None or not description.is_file():
            return None
        return _xml_text(_parse_xml(description), "oml:name")

    def load(self, name: str) -> TaskData:
        """Load one dataset or task.

        Args:
            name: ``d<dataset id>`` or ``t<task id>``, as listed.

        Returns:
            The task and its data (nominal columns as ``category``).

        Raises:
            NotFoundError: Not one of the suite's ids, or not in the cache.
            InvalidRequestError: Unreadable files, unknown target column.
            FailedPreconditionError: openml-python failed to fetch it.
        """
        if name not in self._names:
            raise self._unknown_task(name)
        number = int(name[1:])
        is_task = name.startswith("t")
        source = self._task_source(number) if is_task else _Source(number, None, None)
        X, y, dataset_name, classification = self._load_dataset(
            source, self.target or source.target
        )
        if source.classification is not None:
            classification = source.classification
        return build_task_data(
            X,
            y,
            name=f"{self.name}/{name}",
            source=self.kind,
            family=dataset_name,
            task_type="classification" if classification else "regression",
        )

    def _task_source(self, task_id: int) -> _Source:
        if self.cache is None:
            task = _call_openml(
                self._openml, "tasks.get_task", f"task {task_id}", task_id, download_splits=False
            )
            type_id = getattr(task.task_type_id, "value", task.task_type_id)
            return _Source(int(task.dataset_id), task.target_name, _is_classification(type_id))
        path = self.cache / "tasks" / str(task_id) / "task.xml"
        if not path.is_file():
            raise NotFoundError(f"OpenML task {task_id} is not in the cache: no {path}")
        root = _parse_xml(path)
        dataset_id = _xml_text(root, _DATASET_ID)
        if dataset_id is None:
            raise InvalidRequestError(f"{path}: no data_set_id in the task description")
        type_id = int(_xml_text(root, "oml:task_type_id") or 0)
        target = _xml_text(root, "oml:input/oml:data_set/oml:target_feature")
        return _Source(int(dataset_id), target, _is_classification(type_id))

    def _load_dataset(self, source: _Source, target: str | None) -> tuple[Any, Any, str, bool]:
        """Return ``(X, y, dataset name, whether the target is nominal)``."""
        did = source.dataset_id
        if self.cache is None:
            dataset = _call_openml(self._openml, "datasets.get_dataset", f"dataset {did}", did)
            target = target or dataset.default_target_attribute
            if not target or "," in target:
                raise InvalidRequestError(
                    f"OpenML dataset {did} has no single default target "
                    f"({target!r}); pass target=COLUMN"
                )
            X, y, _, _ = dataset.get_data(target=target)
            nominal = not _numeric(y)
            return X, y, str(dataset.name), nominal
        folder = self.cache / "datasets" / str(did)
        description = folder / "description.xml"
        if not description.is_file():
            raise NotFoundError(f"OpenML dataset {did} is not in the cache: no {description}")
        root = _parse_xml(description)
        target = target or _xml_text(root, "oml:default_target_attribute")
        if not target or "," in target:
            raise InvalidRequestError(
                f"{description}: no single default target ({target!r}); pass target=COLUMN"
            )
        table = read_arff(folder / "dataset.arff")
        dropped = [_xml_text(root, "oml:row_id_attribute")]
        dropped += [e.text for e in root.findall("oml:ignore_attribute", _NS)]
        frame = table.frame.drop(columns=[c for c in dropped if c and c != target], errors="ignore")
        X, y = split_target(frame, target, str(folder / "dataset.arff"))
        dataset_name = _xml_text(root, "oml:name") or table.relation
        return X, y, dataset_name, table.kinds.get(target) == "nominal"


def _cache_root(cache: Path) -> Path:
    if not cache.is_dir():
        raise InvalidRequestError(f"openml suite: cache folder {cache} does not exist")
    nested = cache / "org" / "openml" / "www"
    return nested if nested.is_dir() else cache


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InvalidRequestError(f"{path}: malformed OpenML description ({exc})") from exc


def _xml_text(root: ET.Element, path: str) -> str | None:
    element = root.find(path, _NS)
    text = None if element is None else element.text
    return text.strip() if text and text.strip() else None


def _is_classification(type_id: int) -> bool:
    if type_id not in (_CLASSIFICATION, _REGRESSION):
        raise InvalidRequestError(
            f"OpenML task type {type_id} is not supported; supported: "
            f"{_CLASSIFICATION} (supervised classification), {_REGRESSION} (supervised regression)"
        )
    return type_id == _CLASSIFICATION


def _numeric(y: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype))


def _call_openml(openml: ModuleType | None, function: str, what: str, *args: Any, **kw: Any) -> Any:
    """Call ``openml.<function>`` and turn its failures into our errors."""
    if openml is None:  # constructed with a cache; never reached
        openml = import_openml()
    group, attribute = function.split(".")
    server_error = getattr(openml.exceptions, "OpenMLServerException", RuntimeError)
    try:
        return getattr(getattr(openml, group), attribute)(*args, **kw)
    except server_error as exc:
        raise NotFoundError(f"OpenML has no {what} ({exc})") from exc
    except (OSError, ConnectionError) as exc:
        raise FailedPreconditionError(f"cannot fetch OpenML {what} ({exc})") from exc
