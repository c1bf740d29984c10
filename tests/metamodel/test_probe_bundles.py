"""Bundles that read learner probes: trained, chosen per k on inner folds, served, saved.

The world is the synthetic one, but the model is not told the meta-feature that decides
the best kernel (``f1``): only the probes (configs of both kernels scored on the task)
reveal it. A bundle that reads them must choose to, and answer better with them; a
request without probes must still be answered.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.metamodel.synthetic_world import QUICK, SPACE, true_score, world
from tests.metamodel.synthetic_world import features as features_of
from warmstart.metamodel.bundle import ModelBundle, load_bundle, train_from_records
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.probes import probe_request, split_rule
from warmstart.metamodel.types import EvaluationRecord, TaskFeatures

pytestmark = pytest.mark.slow

HIDDEN = ("f0", "f2", "f3")  # f1, which picks the kernel, is not given
Trained = tuple[ModelBundle, dict[str, np.ndarray], list[EvaluationRecord]]


def _visible(tasks: dict[str, np.ndarray]) -> dict[str, TaskFeatures]:
    return {
        t: TaskFeatures(t, "test-1", HIDDEN, (float(f[0]), float(f[2]), float(f[3])))
        for t, f in tasks.items()
    }


def _probe_scores(
    tasks: dict[str, np.ndarray], records: list[EvaluationRecord], seed: int
) -> dict[str, dict[str, float]]:
    """Every config's score on each task, measured again with noise: as if probed."""
    rng = np.random.default_rng(seed)
    configs = {r.config_hash: dict(r.config) for r in records}
    return {
        t: {h: true_score(c, f) + float(rng.normal(0, 0.01)) for h, c in configs.items()}
        for t, f in tasks.items()
    }


@pytest.fixture(scope="module")
def trained() -> Trained:
    tasks, records = world(60, seed=0)
    families = {t: f"fam-{i // 2}" for i, t in enumerate(tasks)}
    settings = replace(QUICK, probes=3)
    bundle = train_from_records(
        SPACE,
        records,
        _visible(tasks),
        {t: t for t in tasks},
        "test-1",
        settings,
        families=families,
        probe_scores=_probe_scores(tasks, records, seed=1),
    )
    return bundle, tasks, records


def _regret_at_1(bundle: ModelBundle, with_probes: bool) -> float:
    tasks, records = world(20, seed=5)
    recommender = bundle.recommender()
    configs = list({r.config_hash: dict(r.config) for r in records}.values())
    out = []
    for task_id, f in tasks.items():
        asked = _visible({task_id: f})[task_id].as_dict()
        if with_probes:
            # The task's probe scores: those of the model's probe configs, measured here.
            scores = {h: true_score(c, f) for h, c in bundle.probes}
            asked |= probe_request(scores)
        picked = configs[recommender.choose(asked, configs, 1)[0]]
        truth = [true_score(c, f) for c in configs]
        out.append((max(truth) - true_score(picked, f)) / (max(truth) - min(truth)))
    return float(np.mean(out))


def test_the_bundle_chooses_its_probes_and_reads_them_where_they_win(trained: Trained) -> None:
    bundle, _, _ = trained
    assert len(bundle.probes) == 3
    assert bundle.feature_names[-4:] == (
        "probe_delta_0",
        "probe_delta_1",
        "probe_delta_2",
        "probe_mean",
    )
    assert split_rule(bundle.set_rules[1])[1], bundle.set_rules  # k = 1 reads the probes
    assert any(name.endswith("+probes.regret@1") for name in bundle.metrics)
    assert bundle.training["probes"]["version"] == f"probes-{SPACE.name}"


def test_probes_make_the_answers_better_and_none_still_answers(trained: Trained) -> None:
    bundle, _, _ = trained
    with_probes, without = _regret_at_1(bundle, True), _regret_at_1(bundle, False)
    assert with_probes < without
    assert with_probes < 0.1


def test_a_saved_bundle_reads_its_probes_and_refuses_rules_without_them(
    trained,
    tmp_path: Path,
) -> None:
    bundle, tasks, _ = trained
    path = tmp_path / "probed.wsb"
    bundle.save(path)
    back = load_bundle(path)
    assert back.probes == bundle.probes
    task_id, f = next(iter(tasks.items()))
    asked = _visible({task_id: f})[task_id].as_dict() | probe_request(
        {h: true_score(c, f) for h, c in bundle.probes}
    )
    first = [s.config for s in bundle.recommender().suggest(asked, 3).suggestions]
    assert [s.config for s in back.recommender().suggest(asked, 3).suggestions] == first
    data = json.loads(gzip.decompress(path.read_bytes()))
    del data["training"]["probes"]
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(FailedPreconditionError, match="probe"):
        load_bundle(path)


def test_probes_that_say_nothing_leave_the_bundle_as_trained_without_them() -> None:
    tasks, records = world(40, seed=2)
    families = {t: f"fam-{i // 2}" for i, t in enumerate(tasks)}
    rng = np.random.default_rng(3)
    noise = {t: {r.config_hash: float(rng.random()) for r in records} for t in tasks}
    args = (SPACE, records, features_of(tasks), {t: t for t in tasks}, "test-1")
    probed = train_from_records(
        *args, replace(QUICK, probes=3), families=families, probe_scores=noise
    )
    plain = train_from_records(*args, QUICK, families=families)
    assert probed.probes == []
    assert not probed.reads_probes
    assert probed.training["probes_considered"] == 3
    assert probed.set_rules == plain.set_rules
    # Its rules are chosen among the probe-free rules' figures of the probed validation,
    # which are a validation without probes: every figure is the plain bundle's.
    assert probed.metrics == plain.metrics
    assert probed.training["set_rule_procedure"] == plain.training["set_rule_procedure"]
    assert probed.feature_names == plain.feature_names
    task_id, f = next(iter(tasks.items()))
    asked = features_of({task_id: f})[task_id].as_dict()
    answer = [s.config for s in probed.recommender().suggest(asked, 3).suggestions]
    assert answer == [s.config for s in plain.recommender().suggest(asked, 3).suggestions]
