"""Importing other people's tables: partial configs, lower-is-better scores, fixed feature names."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from tests.factories import pmlb_tasks, small_space
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.evaluation import regret_curve
from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.store import (
    RecordStore,
    import_records,
    import_task_features,
    write_task_features,
)
from warmstart.metamodel.surrogate import normalise_scores
from warmstart.metamodel.types import TaskFeatures

# Configs as a foreign table lists them: only what differs from the defaults
# (C=1, kernel=rbf, gamma=0.1, shrinking=True; degree=3 when kernel=poly).
_PARTIAL: list[dict[str, object]] = [
    {"C": 2.0},  # kernel, gamma (active under the default rbf) and shrinking filled
    {"kernel": "poly"},  # C, degree (now active) and shrinking filled
    {"C": 0.5, "kernel": "linear", "shrinking": False},  # whole already
]
_FILLED: list[dict[str, object]] = [
    {"C": 2.0, "kernel": "rbf", "gamma": 0.1, "shrinking": True},
    {"C": 1.0, "kernel": "poly", "degree": 3, "shrinking": True},
    {"C": 0.5, "kernel": "linear", "shrinking": False},
]
_ERRORS = [0.2, 0.5, 0.3]  # lower is better


def _table(path: Path, configs: list[dict[str, object]], scores: list[float]) -> Path:
    space = small_space()
    pd.DataFrame(
        {
            "task_name": ["openml/credit-g"] * len(configs),
            "task_type": ["binary"] * len(configs),
            "space_name": [space.name] * len(configs),
            "space_definition": [space.definition] * len(configs),
            "config": [json.dumps(c) for c in configs],
            "status": ["ok"] * len(configs),
            "score": scores,
        }
    ).to_parquet(path)
    return path


def test_partial_configs_are_refused_unless_defaults_fill_them(
    store: RecordStore, tmp_path: Path
) -> None:
    path = _table(tmp_path / "partial.parquet", _PARTIAL, [0.7, 0.8, 0.9])
    refused = import_records(store, path)
    assert not refused.stored
    assert [e.row for e in refused.invalid] == [0, 1]
    assert "active parameter(s) missing: 'kernel', 'shrinking'" in refused.invalid[0].reason
    filled = import_records(store, path, fill_defaults=True)
    assert (filled.stored, filled.new_records, filled.filled) == (True, 3, 2)
    stored = {r.config_hash: dict(r.config) for r in store.get_records()}
    assert stored == {config_hash(c): c for c in _FILLED}


def test_lower_is_better_scores_are_stored_negated_and_regret_is_unchanged(
    store: RecordStore, tmp_path: Path
) -> None:
    path = _table(tmp_path / "errors.parquet", _FILLED, _ERRORS)
    report = import_records(store, path, lower_is_better=True)
    assert report.stored
    by_hash = {r.config_hash: r.score for r in store.get_records()}
    hashes = [config_hash(c) for c in _FILLED]
    assert [by_hash[h] for h in hashes] == [-e for e in _ERRORS]
    # The per-task normalisation reads the errors the natural way: the lowest error is
    # the best (rank 1, regret 0), the highest the worst (regret 1), in between linearly.
    scores = {h: float(s) for h, s in by_hash.items() if s is not None}
    best, worst = min(_ERRORS), max(_ERRORS)
    for i, h in enumerate(hashes):
        regret = regret_curve(scores, [h], [1])[1]
        assert regret == pytest.approx((_ERRORS[i] - best) / (worst - best))
    ranks = normalise_scores([scores[h] for h in hashes])
    assert list(ranks) == [1.0, 0.0, 0.5]


def test_a_versions_names_are_fixed_on_import(store: RecordStore, tmp_path: Path) -> None:
    tasks = pmlb_tasks(2)
    store.put_tasks(tasks)
    first = tmp_path / "first.parquet"
    names = ("NumberOfInstances", "NumberOfClasses")
    write_task_features([TaskFeatures(tasks[0].task_id, "openml-q1", names, (150.0, 3.0))], first)
    assert import_task_features(store, first).stored
    other = tmp_path / "other.parquet"
    write_task_features(
        [TaskFeatures(tasks[1].task_id, "openml-q1", ("NumberOfInstances", "Foo"), (1.0, 2.0))],
        other,
    )
    with pytest.raises(InvalidRequestError, match="missing 'NumberOfClasses'; extra 'Foo'"):
        import_task_features(store, other)
    reordered = tmp_path / "reordered.parquet"
    write_task_features(
        [TaskFeatures(tasks[1].task_id, "openml-q1", names[::-1], (3.0, 150.0))], reordered
    )
    with pytest.raises(InvalidRequestError, match="the same names in another order"):
        import_task_features(store, reordered)
    assert set(store.list_task_features("openml-q1")) == {tasks[0].task_id}


def test_other_names_under_the_computed_version_are_refused(
    store: RecordStore, tmp_path: Path
) -> None:
    tasks = pmlb_tasks(1)
    store.put_tasks(tasks)
    path = tmp_path / "qualities_as_mf.parquet"
    write_task_features(
        [TaskFeatures(tasks[0].task_id, FEATURE_VERSION, ("NumberOfInstances",), (150.0,))], path
    )
    with pytest.raises(InvalidRequestError) as raised:
        import_task_features(store, path)
    message = str(raised.value)
    assert f"{FEATURE_VERSION} is the feature set warmstart computes" in message
    assert f"missing {FEATURE_NAMES[0]!r}" in message
    assert f"and {len(FEATURE_NAMES) - 12} more" in message
    assert "extra 'NumberOfInstances'" in message
    assert store.list_task_features(FEATURE_VERSION) == {}
    right = tmp_path / "mf.parquet"
    values = tuple(math.nan for _ in FEATURE_NAMES)
    write_task_features(
        [TaskFeatures(tasks[0].task_id, FEATURE_VERSION, FEATURE_NAMES, values)], right
    )
    assert import_task_features(store, right).new == 1
