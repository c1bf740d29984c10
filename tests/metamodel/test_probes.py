"""warmstart.metamodel.probes: probe choice, probe inputs, and reading them from a request."""

from __future__ import annotations

import math

import numpy as np
import pytest

from warmstart.metamodel.probe_choice import choose_probes
from warmstart.metamodel.probes import ProbeReader, probe_key, with_probe_inputs
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.types import EvaluationRecord, TaskFeatures


def _records(scores: np.ndarray, seconds: list[float]) -> list[EvaluationRecord]:
    """Records of tasks (rows) x configs (columns), config i being ``{"x": i}``."""
    out = []
    for t, row in enumerate(scores):
        for c, score in enumerate(row):
            if np.isfinite(score):
                config = {"x": c}
                out.append(
                    EvaluationRecord(
                        task_id=f"t{t}",
                        space_id="s",
                        config=config,
                        config_hash=config_hash(config),
                        score=float(score),
                        fit_seconds=seconds[c],
                    )
                )
    return out


def test_probes_are_cheap_covered_and_span_different_task_rankings() -> None:
    rng = np.random.default_rng(0)
    n_tasks = 30
    kind = rng.integers(0, 2, n_tasks)
    scores = np.empty((n_tasks, 6))
    scores[:, 0] = 0.5  # the default: the same middling score everywhere
    scores[:, 1] = np.where(kind == 1, 1.0, 0.0)  # wins on kind-1 tasks
    scores[:, 2] = scores[:, 1] + 0.01  # a near copy of config 1
    scores[:, 3] = rng.normal(size=n_tasks)  # its own ranking
    scores[:, 4] = np.where(kind == 0, 1.0, 0.0)  # wins on kind 0, but slow
    scores[:, 5] = np.where(kind == 0, 0.9, 0.1)
    scores[: n_tasks // 2, 5] = np.nan  # covered on half the tasks only
    seconds = [1.0, 1.0, 1.0, 1.0, 50.0, 1.0]
    probes = choose_probes(_records(scores, seconds), 3, {"x": 0})
    picked = [config["x"] for _, config in probes]
    assert picked[0] == 0  # the default first
    assert 4 not in picked  # too slow
    assert 5 not in picked  # too rarely evaluated
    assert not {1, 2} <= set(picked)  # not two copies of one ranking
    assert 3 in picked
    assert [h for h, _ in probes] == [config_hash({"x": x}) for x in picked]


def test_probe_features_are_relative_scores_and_their_mean() -> None:
    base = TaskFeatures("t", "mf-1", ("n_rows",), (100.0,))
    out = with_probe_inputs(base, ["a", "b", "c"], {"a": 0.9, "b": 0.7})
    values = out.as_dict()
    assert out.version == "mf-1"
    assert values["n_rows"] == 100.0
    assert values["probe_mean"] == pytest.approx(0.8)
    assert values["probe_delta_0"] == pytest.approx(0.1)
    assert values["probe_delta_1"] == pytest.approx(-0.1)
    assert math.isnan(values["probe_delta_2"])
    nothing = with_probe_inputs(base, ["a"], {}).as_dict()
    assert math.isnan(nothing["probe_delta_0"])
    assert math.isnan(nothing["probe_mean"])


def test_a_request_reads_raw_probe_scores_or_leaves_them_out() -> None:
    reader = ProbeReader(["a", "b"])
    asked = {"n_rows": 5.0, probe_key("a"): 0.9, probe_key("b"): 0.7, probe_key("zz"): 0.1}
    read = reader.inputs(asked, read=True)
    assert read["n_rows"] == 5.0
    assert read["probe_delta_0"] == pytest.approx(0.1)
    assert read["probe_delta_1"] == pytest.approx(-0.1)
    assert read["probe_mean"] == pytest.approx(0.8)
    assert not any(name.startswith("probe:") for name in read)  # another model's probe: ignored
    assert reader.inputs(asked, read=False) == {"n_rows": 5.0}
    given = {"n_rows": 5.0, "probe_delta_0": 0.3, "probe_mean": 0.5}  # inputs made already
    assert reader.inputs(given, read=True) == given
    assert math.isnan(reader.inputs({"n_rows": 5.0}, read=True)["probe_mean"])  # none measured
    assert ProbeReader([]).inputs(asked, read=True) == {"n_rows": 5.0}
