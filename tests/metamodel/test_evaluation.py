"""Pool-mode evaluation on a store holding the synthetic world, and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.metamodel.synthetic_world import QUICK, SPACE, features, world
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.evaluation import (
    METHODS,
    EvalSettings,
    evaluate_pool,
    regret_curve,
    write_pool_report,
)
from warmstart.metamodel.recommend import SET_RULES, Recommender
from warmstart.metamodel.spaces import SamplerName
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import Task, TaskType


def _fill_store(store: RecordStore, n_tasks: int, sampler: SamplerName = "random") -> None:
    tasks, records = world(n_tasks, seed=3, sampler=sampler)
    store.add_all(
        tasks=[
            Task(
                t,
                f"synthetic/{t}",
                TaskType.BINARY,
                "test",
                100,
                4,
                family=f"fam-{i // 3}",
                n_classes=2,
            )
            for i, t in enumerate(tasks)
        ],
        spaces=[SPACE],
        records=records,
    )
    store.put_task_features(features(tasks).values())


def test_regret_curve_follows_hpo_b() -> None:
    scores = {"a": 0.5, "b": 0.9, "c": 0.7, "d": float("nan")}
    curve = regret_curve(scores, ["d", "a", "c", "b"], [1, 2, 3, 4])
    # d failed: counts as the worst (0.5); best 0.9, worst 0.5.
    assert curve == {1: 1.0, 2: 1.0, 3: pytest.approx(0.5), 4: 0.0}


def test_pool_evaluation_ranks_warmstart_ahead_and_writes_a_report(tmp_path: Path) -> None:
    with RecordStore.open(f"sqlite:///{tmp_path / 'eval.db'}") as store:
        _fill_store(store, 30)
        settings = EvalSettings(ks=(1, 3, 5), n_folds=5, train=QUICK)
        result = evaluate_pool(store, "svm_like", "test-1", settings)
    assert len(result.tasks) == 30
    assert {t.fold for t in result.tasks} == set(range(5))
    for family in {t.family for t in result.tasks}:
        assert len({t.fold for t in result.tasks if t.family == family}) == 1
    for task in result.tasks:
        assert set(task.regret) == set(METHODS)
        for method in METHODS:
            assert all(0.0 <= task.regret[method][k] <= 1.0 for k in (1, 3, 5))
            if method != "warmstart":  # warmstart's k = 1 and 5 are two answers
                assert task.regret[method][5] <= task.regret[method][1]
    assert result.mean_regret("warmstart", 1) < result.mean_regret("default", 1)
    assert result.mean_regret("warmstart", 1) < result.mean_regret("random", 1)
    assert result.win_rate("random", 1) > 0.5
    ranks = result.average_rank(1)
    assert sum(ranks.values()) == pytest.approx(21.0)  # 1 + 2 + ... + 6
    # The synthetic world's best config follows the task: the surrogate's rankings of the
    # fixed set follow the measured ones and differ between tasks as they do.
    found = result.dependence
    assert found is not None
    assert found.n_tasks == 30
    assert found.spearman > 0.5
    assert found.predicted_agreement < found.measured_agreement + 0.3
    assert found.distinct_top5 > 5
    # The random configs hold the space's default but none of its Sobol ones.
    assert found.sampled is not None
    assert found.sampled.n_tasks == 0
    report = write_pool_report(result, tmp_path / "out", command="warmstart evaluate ...")
    text = report.read_text()
    assert "| warmstart (ours) |" in text
    assert "| agreement across tasks, predicted |" in text
    assert "| held-out tasks measured | 30 | 0 |" in text
    # Each fold's bundle chose its set rules on its own inner folds; the report says which.
    assert set(result.fold_rules) == set(range(5))
    for fold, rules in result.fold_rules.items():
        assert rules.procedure in ("one_rule", "rule_per_k")
        served = [rules.rules[k] for k in (1, 3, 5, 10)]
        assert set(served) <= set(SET_RULES)
        assert f"| {fold} | 6 | {' | '.join(served)} | {rules.procedure} |" in text
    assert (tmp_path / "out" / "svm_like_pool_regret.png").stat().st_size > 1000
    assert (tmp_path / "out" / "svm_like_pool_vs_portfolio.png").is_file()


def test_best_of_k_is_measured_on_the_answer_to_a_request_for_k(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A model whose answer to k = 1 is the pool's first config and whose longer answers
    # are the model's own: regret@1 must follow the first, regret@3 the second.
    asked: list[int] = []
    choose = Recommender.choose

    def spy(self: Recommender, features: Any, pool: Any, k: int, *args: Any) -> list[int]:
        asked.append(k)
        return [0] if k == 1 else choose(self, features, pool, k, *args)

    monkeypatch.setattr(Recommender, "choose", spy)
    with RecordStore.open(f"sqlite:///{tmp_path / 'eval.db'}") as store:
        _fill_store(store, 15)
        settings = EvalSettings(ks=(1, 3), n_folds=5, train=QUICK)
        result = evaluate_pool(store, "svm_like", "test-1", settings)
        first = {t: _regret_of_first(store, t) for t in (task.task_id for task in result.tasks)}
    assert {1, 3} <= set(asked)  # (10: the bundles choose their set rules at k = 10)
    for task in result.tasks:
        assert task.regret["warmstart"][1] == pytest.approx(first[task.task_id])
    assert result.mean_regret("warmstart", 3) < result.mean_regret("random", 3)


def _regret_of_first(store: RecordStore, task_id: str) -> float:
    """Regret of the first config (by hash) of a task's pool, as pool mode orders its pool."""
    scores = {r.config_hash: r.score for r in store.get_records(RecordFilter(task_id=task_id))}
    finite = [float(v) for v in scores.values() if v is not None]
    first = scores[sorted(scores)[0]]
    return (max(finite) - float(first or min(finite))) / (max(finite) - min(finite))


def test_too_few_families_is_refused(tmp_path: Path) -> None:
    with RecordStore.open(f"sqlite:///{tmp_path / 'eval.db'}") as store:
        _fill_store(store, 6)
        with pytest.raises(FailedPreconditionError, match="needs at least 5"):
            evaluate_pool(store, "svm_like", "test-1", EvalSettings(n_folds=5, train=QUICK))


def test_task_dependence_is_also_measured_on_the_spaces_own_fixed_set(tmp_path: Path) -> None:
    # Records on the space's default and Sobol configs (seed 0), as `bench run` trains them:
    # every held-out task has all 32 of the space's own set, and the world's rankings follow
    # the task, so the surrogate's do too.
    with RecordStore.open(f"sqlite:///{tmp_path / 'eval.db'}") as store:
        _fill_store(store, 30, sampler="sobol")
        settings = EvalSettings(ks=(1, 3), n_folds=5, train=QUICK)
        result = evaluate_pool(store, "svm_like", "test-1", settings)
    found = result.dependence
    assert found is not None
    assert found.sampled is not None
    own = found.sampled
    assert (own.n_configs, own.n_tasks) == (32, 30)
    assert own.spearman > 0.5
    assert own.predicted_agreement < own.measured_agreement + 0.3
    # The two sets differ (the best 32 of 40 against the first 32), so do their figures.
    assert own.spearman != found.spearman
    report = write_pool_report(result, tmp_path / "out", command="warmstart evaluate ...")
    assert "| held-out tasks measured | 30 | 30 |" in report.read_text()
