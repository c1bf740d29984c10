"""The two-stage surrogate, the set rules and the validation that chooses a bundle's rule.

Real training on the synthetic world of :mod:`tests.metamodel.synthetic_world`,
where the best config follows the task's meta-features, and on a world where
it does not (every task has the same best configs, which a portfolio covers).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from tests.factories import ok_record
from tests.metamodel.synthetic_world import CS, NAMES, SPACE, features, true_score, world
from warmstart.metamodel.bundle import ModelBundle, TrainSettings, load_bundle, train_from_records
from warmstart.metamodel.bundle._validate import (
    BASELINE_RULES,
    PROCEDURES,
    VALIDATION_KS,
    _chosen,
    _cross_validated,
    _decided,
    choose_set_rule,
)
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.recommend import SET_RULES, SuggestQuery
from warmstart.metamodel.recommend._set_choice import make_set_choice
from warmstart.metamodel.spaces import config_hash, default_config, sample_configs
from warmstart.metamodel.surrogate import Surrogate, SurrogateParams, build_training_table
from warmstart.metamodel.types import ConfigValue, EvaluationRecord

SMALL = SurrogateParams(n_models=3, n_estimators=60, config_rounds=30, min_child_samples=5)


def _train(
    tasks: Mapping[str, np.ndarray],
    records: list[EvaluationRecord],
    families: Mapping[str, str] | None,
    folds: int = 3,
) -> ModelBundle:
    settings = TrainSettings(surrogate=SMALL, validation_folds=folds)
    names = {t: t for t in tasks}
    return train_from_records(
        SPACE, records, features(dict(tasks)), names, "test-1", settings, families=families
    )


def _bundle(n_tasks: int, seed: int, *, validate: bool) -> ModelBundle:
    tasks, records = world(n_tasks, seed=seed)
    families = {t: f"family-{i % 8}" for i, t in enumerate(sorted(tasks))} if validate else None
    return _train(tasks, records, families)


def test_the_config_stage_splits_on_configs_only() -> None:
    tasks, records = world(20, seed=3)
    table = build_training_table(records, features(tasks), ConfigEncoder(CS))
    surrogate = Surrogate.fit(table, SMALL)
    for member in surrogate.members:
        trees = member.dump_model()["tree_info"]
        assert len(trees) == SMALL.config_rounds + SMALL.n_estimators

        def split_features(node: dict[str, object]) -> set[int]:
            if "split_feature" not in node:
                return set()
            found = {int(node["split_feature"])}  # type: ignore[call-overload]
            for side in ("left_child", "right_child"):
                found |= split_features(node[side])  # type: ignore[arg-type]
            return found

        first = set().union(*(split_features(t["tree_structure"]) for t in trees[:30]))
        later = set().union(*(split_features(t["tree_structure"]) for t in trees[30:]))
        assert first
        assert min(first) >= table.n_meta  # configs only
        assert any(f < table.n_meta for f in later)  # the task stage uses the task


def test_two_stage_rankings_follow_the_task() -> None:
    """On unseen tasks, predicted rankings of a fixed set of configs track the true ones."""
    tasks, records = world(40, seed=1)
    table = build_training_table(records, features(tasks), ConfigEncoder(CS))
    surrogate = Surrogate.fit(table, SMALL)
    fixed = sample_configs(CS, 32, method="sobol", seed=5)
    encoded = ConfigEncoder(CS).encode(fixed)
    new_tasks, _ = world(10, seed=77)
    rhos = []
    for f in new_tasks.values():
        X = np.hstack([np.tile(f, (len(fixed), 1)), encoded])
        predicted, _ = surrogate.predict(X)
        rhos.append(spearmanr(predicted, [true_score(c, f) for c in fixed]).statistic)
    assert np.mean(rhos) > 0.6


def test_make_set_choice_refuses_an_unknown_rule() -> None:
    bundle = _bundle(16, seed=2, validate=False)
    recommender = bundle.recommender()
    with pytest.raises(InvalidRequestError, match=r"unknown set rule 'best'.*expected_best"):
        make_set_choice("best", recommender.table, recommender.settings)


def test_portfolio_rules_follow_the_portfolio_order() -> None:
    bundle = _bundle(16, seed=2, validate=False)
    recommender = bundle.recommender()
    pool = list(bundle.portfolio[:6]) + sample_configs(CS, 10, method="random", seed=9)
    features_ = dict(zip(NAMES, [0.2, 0.8, 0.5, 0.5], strict=True))
    hashes = [config_hash(c) for c in pool]
    portfolio = [config_hash(c) for c in bundle.portfolio[:6]]
    recommender.set_choice = make_set_choice("portfolio", recommender.table, recommender.settings)
    assert [hashes[i] for i in recommender.choose(features_, pool, 6)] == portfolio
    recommender.set_choice = make_set_choice(
        "top_predicted", recommender.table, recommender.settings
    )
    top = recommender.choose(features_, pool, 3)
    recommender.set_choice = make_set_choice(
        "top_then_portfolio", recommender.table, recommender.settings
    )
    lead = recommender.choose(features_, pool, 4)
    assert lead[0] == top[0]
    assert [hashes[i] for i in lead[1:]] == [h for h in portfolio if h != hashes[top[0]]][:3]
    # The free rule a user starts from: the library's default, then the portfolio.
    default = config_hash(default_config(CS))
    with_default = [*pool, default_config(CS)]
    recommender.set_choice = make_set_choice(
        "default_then_portfolio", recommender.table, recommender.settings
    )
    picked = [config_hash(with_default[i]) for i in recommender.choose(features_, with_default, 4)]
    assert picked == [default, *[h for h in portfolio if h != default][:3]]


def test_a_portfolio_bundle_suggests_its_portfolio(tmp_path: Path) -> None:
    bundle = _bundle(16, seed=2, validate=False)
    training = dict(bundle.training, set_rules={"1": "top_predicted", "3": "portfolio"})
    ruled = ModelBundle(**{**bundle.__dict__, "training": training})
    ruled.save(tmp_path / "m.wsb")
    loaded = load_bundle(tmp_path / "m.wsb")
    assert loaded.set_rules == {1: "top_predicted", 3: "portfolio"}
    recommender = loaded.recommender()
    features_ = dict(zip(NAMES, [0.5] * 4, strict=True))
    answer = recommender.suggest(features_, k=3)
    assert [config_hash(s.config) for s in answer.suggestions] == [
        config_hash(c) for c in bundle.portfolio[:3]
    ]
    # k = 1 and 2 follow the model; batches mixing both rules answer each as alone.
    alone = [recommender.suggest(features_, k=k).suggestions for k in (1, 2, 3, 5)]
    together = recommender.suggest_many(
        [SuggestQuery(features_, k, None, ()) for k in (1, 2, 3, 5)]
    )
    assert [[config_hash(s.config) for s in a] for a in alone] == [
        [config_hash(s.config) for s in t.suggestions]  # type: ignore[union-attr]
        for t in together
    ]
    top = max(answer.suggestions, key=lambda s: s.predicted_score)
    assert alone[0][0].predicted_score >= top.predicted_score


def test_loading_refuses_an_unknown_rule(tmp_path: Path) -> None:
    bundle = _bundle(16, seed=2, validate=False)
    for rules, message in (
        ({"1": "x"}, r"set rule 'x' is not one.*expected_best"),
        ({"0": "portfolio"}, "not a k >= 1"),
        ({"3": "portfolio"}, "start at k = 1"),
    ):
        odd = ModelBundle(**{**bundle.__dict__, "training": dict(bundle.training, set_rules=rules)})
        odd.save(tmp_path / "odd.wsb")
        with pytest.raises(FailedPreconditionError, match=message):
            load_bundle(tmp_path / "odd.wsb")


def test_validation_chooses_a_rule_and_records_its_figures() -> None:
    bundle = _bundle(40, seed=1, validate=True)
    assert set(bundle.set_rules) == set(VALIDATION_KS)
    metrics = bundle.metrics
    assert metrics["validation.folds"] == 3
    assert metrics["validation.tasks"] == 40
    for k, rule in bundle.set_rules.items():
        assert rule in SET_RULES
        served = metrics[f"validation.served.regret@{k}"]
        assert served == metrics[f"validation.{rule}.regret@{k}"]
    # Never worse on the inner folds than the best free rule: at its k, or over every k
    # for one rule.
    assert sum(metrics[f"validation.served.regret@{k}"] for k in VALIDATION_KS) <= min(
        sum(metrics[f"validation.{rule}.regret@{k}"] for k in VALIDATION_KS)
        for rule in BASELINE_RULES
    )
    # The procedure that chose them is the one whose choices carried best to held-out folds.
    procedure = bundle.training["set_rule_procedure"]
    held_out = {name: metrics[f"validation.procedure.{name}"] for name in PROCEDURES}
    assert held_out[procedure] == min(held_out.values())
    if procedure == "one_rule":
        assert len(set(bundle.set_rules.values())) == 1
    for rule in SET_RULES:
        assert all(0.0 <= metrics[f"validation.{rule}.regret@{k}"] <= 1.0 for k in VALIDATION_KS)
    # Where the best config follows the task, the fixed list is not served.
    assert "portfolio" not in bundle.set_rules.values()


def test_a_restricted_validation_chooses_again_among_the_kept_rules() -> None:
    # "a+probes" wins every k; without it, "a" beats the free "portfolio" beyond noise.
    rng = np.random.default_rng(4)
    folds = np.repeat([0, 1, 2], 10)
    portfolio = 0.10 + rng.uniform(0, 0.01, (30, 4))
    table = {"a": portfolio - 0.05, "portfolio": portfolio, "a+probes": portfolio - 0.08}
    full = _decided(table, folds, list(table), 30, 3)
    assert set(full.rules.values()) == {"a+probes"}
    plain = full.restricted(lambda rule: not rule.endswith("+probes"))
    assert plain == _decided(
        {r: table[r] for r in ("a", "portfolio")}, folds, ["a", "portfolio"], 30, 3
    )
    assert set(plain.rules.values()) == {"a"}
    assert "a+probes" not in plain.regret
    assert plain.regret["a"] == full.regret["a"]
    with pytest.raises(ValueError, match="no measured set rule"):
        full.restricted(lambda rule: False)


def test_procedures_are_scored_on_the_folds_they_did_not_choose_on() -> None:
    # Three inner folds of two tasks. Rule "b" wins k = 1 on folds 0 and 1 only by chance
    # (it loses badly on fold 2); "a" is steady.
    folds = np.array([0, 0, 1, 1, 2, 2])
    a = np.full((6, 4), 0.10)
    b = np.full((6, 4), 0.20)
    b[:4, 0] = 0.0
    b[4:, 0] = 0.9
    rules = ("a", "b")
    table = {"a": a, "b": b}
    per_k = PROCEDURES["rule_per_k"](table, rules)
    one = PROCEDURES["one_rule"](table, rules)
    assert one == dict.fromkeys(VALIDATION_KS, "a")
    assert per_k[3] == "a"
    # Without fold 2, rule_per_k serves "b" at k = 1 and pays 0.9 on fold 2's tasks.
    assert _cross_validated(PROCEDURES["rule_per_k"], table, folds, rules) > _cross_validated(
        PROCEDURES["one_rule"], table, folds, rules
    )
    assert _cross_validated(PROCEDURES["one_rule"], table, folds, rules) == pytest.approx(0.10)


def test_a_model_rule_is_served_only_where_it_beats_the_free_rules_beyond_noise() -> None:
    rng = np.random.default_rng(0)
    free = rng.uniform(0.05, 0.15, 40)
    rules = ("expected_best", "top_predicted", *BASELINE_RULES)

    def found(model: np.ndarray, portfolio: np.ndarray) -> dict[str, dict[int, list[float]]]:
        by_rule = {
            "expected_best": model,
            "top_predicted": model + 0.05,
            "default_then_portfolio": portfolio + 0.02,
            "portfolio": portfolio,
            "nearest_best": portfolio + 0.01,
        }
        return {r: {1: list(v)} for r, v in by_rule.items()}

    # Clearly better on every task: the model rule.
    assert _chosen(found(free - 0.03, free), 1, rules) == "expected_best"
    # Better on average by less than the noise of the paired differences: the free rule.
    scatter = rng.normal(0, 0.05, 40)
    noisy = free - 0.002 + scatter - scatter.mean()
    assert float(np.mean(noisy)) < float(np.mean(free)) - 0.001
    assert _chosen(found(noisy, free), 1, rules) == "portfolio"
    # A free rule best outright is served as it is.
    assert _chosen(found(free + 0.03, free), 1, rules) == "portfolio"


def test_reading_probes_must_beat_every_rule_that_reads_none_beyond_noise() -> None:
    rng = np.random.default_rng(1)
    model = rng.uniform(0.02, 0.08, 40)
    rules = ("expected_best", *BASELINE_RULES, "expected_best+probes")

    def found(probed: np.ndarray) -> dict[str, dict[int, list[float]]]:
        by_rule = {
            "expected_best": model,
            "default_then_portfolio": model + 0.05,
            "portfolio": model + 0.04,
            "nearest_best": model + 0.045,
            "expected_best+probes": probed,
        }
        return {r: {1: list(v)} for r, v in by_rule.items()}

    # Clearly better than the model without probes: read them.
    assert _chosen(found(model - 0.02), 1, rules) == "expected_best+probes"
    # Better on average, but by less than the noise: the model without them, which beats
    # the free rules, is served.
    scatter = rng.normal(0, 0.04, 40)
    noisy = model - 0.002 + scatter - scatter.mean()
    assert _chosen(found(noisy), 1, rules) == "expected_best"


def _same_everywhere(n_tasks: int) -> tuple[dict[str, np.ndarray], list[EvaluationRecord]]:
    """Tasks whose scores do not depend on their features: what wins is a fixed list."""
    rng = np.random.default_rng(4)
    tasks = {f"flat-{i}": rng.random(4) for i in range(n_tasks)}
    configs: list[dict[str, ConfigValue]] = sample_configs(CS, 30, method="random", seed=4)
    base = rng.random(len(configs))
    records = []
    for task_id in tasks:
        # Two kinds of task, not told apart by the features: each has its own winner.
        kind = rng.integers(2)
        for j, config in enumerate(configs):
            bonus = 1.0 if j == kind else 0.0
            score = float(base[j] * 0.5 + bonus + rng.normal(0, 0.01))
            records.append(ok_record(task_id, SPACE, config, score))
    return tasks, records


def test_validation_prefers_the_portfolio_where_features_say_nothing() -> None:
    tasks, records = _same_everywhere(48)
    families = {t: f"family-{i % 8}" for i, t in enumerate(sorted(tasks))}
    found = choose_set_rule(
        records,
        features(tasks),
        families,
        3,
        0,
        lambda kept: _train(tasks, kept, None, folds=0).recommender(),
    )
    assert found is not None
    # The portfolio holds both winners in its first two; the model cannot tell which is which.
    assert found.regret["portfolio"][3] == pytest.approx(0.0, abs=0.02)
    # At k = 1 the model's pick is right for half the tasks, the portfolio's first for
    # more: no rule led by the model's pick serves, but the portfolio or a rule that
    # counts measured scores as it does (the local portfolio, the most wins against the
    # default). From k = 3 the default rule covers both kinds as the portfolio does, and
    # the model's top 3 (near-copies of one guess) do not.
    assert found.rules[1] in ("portfolio", "local_portfolio", "wins_then_local")
    assert found.regret[found.rules[1]][1] <= found.regret["portfolio"][1]
    assert found.regret["top_predicted"][1] > found.regret["portfolio"][1] + 0.1
    assert found.regret[found.rules[3]][3] == pytest.approx(0.0, abs=0.02)
    assert found.regret["top_predicted"][3] > 0.2


def test_validation_needs_as_many_families_as_folds() -> None:
    tasks, records = world(10, seed=1)
    families = {t: "one" if i % 2 else "two" for i, t in enumerate(sorted(tasks))}
    assert choose_set_rule(records, features(tasks), families, 3, 0, lambda kept: None) is None  # type: ignore[arg-type,return-value]
    bundle = _train(tasks, records, families)
    assert bundle.set_rules == {1: "expected_best"}
    assert set(bundle.metrics) == {"fit_time.margin"}  # no validation figures


def test_nearest_best_is_the_nearest_neighbour_warm_start(tmp_path: Path) -> None:
    from warmstart.metamodel.evaluation._pool import neighbour_order
    from warmstart.metamodel.portfolio import score_matrix

    tasks, records = world(30, seed=5)
    bundle = _train(tasks, records, None, folds=0)
    recommender = bundle.recommender()
    recommender.set_choice = make_set_choice(
        "nearest_best", recommender.table, recommender.settings
    )
    matrix = score_matrix(records)
    pool_hashes = sorted({r.config_hash for r in records})
    configs = {r.config_hash: dict(r.config) for r in records}
    query = {name: 0.3 + 0.1 * i for i, name in enumerate(NAMES)}
    chosen = recommender.choose(query, [configs[h] for h in pool_hashes], 5)
    expected = list(dict.fromkeys(neighbour_order(recommender.index, query, matrix)))[:5]
    assert [pool_hashes[i] for i in chosen] == expected
    # Served: a bundle whose rule is nearest_best answers the nearest tasks' best, in order.
    served = ModelBundle(
        **{**bundle.__dict__, "training": dict(bundle.training, set_rules={1: "nearest_best"})}
    )
    served.save(tmp_path / "nearest.wsb")
    answer = load_bundle(tmp_path / "nearest.wsb").recommender().suggest(query, k=5)
    assert [config_hash(s.config) for s in answer.suggestions] == expected


def _coverage(values: np.ndarray, picks: list[int]) -> float:
    """Sum over the rows of the best of ``picks``' columns (0 with none)."""
    return float(values[:, picks].max(axis=1).sum()) if picks else 0.0


def test_local_portfolio_is_the_greedy_portfolio_of_the_nearest_tasks(tmp_path: Path) -> None:
    from warmstart.metamodel.portfolio import score_matrix
    from warmstart.metamodel.recommend import RecommenderSettings

    tasks, records = world(30, seed=5)
    bundle = _train(tasks, records, None, folds=0)
    settings = RecommenderSettings(local_neighbours=6)
    recommender = bundle.recommender(settings)
    matrix = score_matrix(records)
    pool_hashes = sorted({r.config_hash for r in records})
    configs = {r.config_hash: dict(r.config) for r in records}
    query = {name: 0.3 + 0.1 * i for i, name in enumerate(NAMES)}
    rows, _, _ = recommender.index.nearest(recommender.index.vector(query), 6)
    near = [matrix.task_ids.index(recommender.index.task_ids[r]) for r in rows.tolist()]
    # Only configs in the world table carry measured scores; the others count 0 here.
    in_table = [h in recommender.table.column for h in pool_hashes]
    columns = [matrix.config_hashes.index(h) for h in pool_hashes]
    values = np.nan_to_num(matrix.scores[np.ix_(near, columns)], nan=0.0) * np.array(in_table)
    for lead, rule in ((0, "local_portfolio"), (1, "top_then_local")):
        recommender.set_choice = make_set_choice(rule, recommender.table, settings)
        chosen = recommender.choose(query, [configs[h] for h in pool_hashes], 5)
        assert len(set(chosen)) == 5
        # Each pick adds as much coverage of the nearest tasks as the best pick could.
        for j in range(lead, 5):
            best_gain = max(_coverage(values, [*chosen[:j], c]) for c in range(len(pool_hashes)))
            assert _coverage(values, chosen[: j + 1]) == pytest.approx(best_gain)
    recommender.set_choice = make_set_choice("top_predicted", recommender.table, settings)
    top = recommender.choose(query, [configs[h] for h in pool_hashes], 1)
    assert chosen[0] == top[0]
    # The nearest tasks' scores decide: far tasks' scores do not enter the choice.
    recommender.set_choice = make_set_choice("local_portfolio", recommender.table, settings)
    before = recommender.choose(query, [configs[h] for h in pool_hashes], 5)
    measured = recommender.table.measured
    assert measured is not None
    far = np.setdiff1d(np.arange(len(measured)), rows)
    measured[far] = np.nan_to_num(measured[far], nan=0.0)[:, ::-1]
    assert recommender.choose(query, [configs[h] for h in pool_hashes], 5) == before


def test_wins_then_local_leads_with_the_config_that_beats_the_default_most_often() -> None:
    from warmstart.metamodel.recommend import RecommenderSettings

    tasks, records = world(30, seed=5)
    bundle = _train(tasks, records, None, folds=0)
    settings = RecommenderSettings(local_neighbours=6)
    recommender = bundle.recommender(settings)
    table = recommender.table
    measured = table.measured
    assert measured is not None
    default = int(table.positions["default"][0])
    configs = {r.config_hash: dict(r.config) for r in records}
    pool = [configs[h] for h in sorted(configs)]
    in_table = [table.column[config_hash(c)] for c in pool if config_hash(c) in table.column]
    query = {name: 0.3 + 0.1 * i for i, name in enumerate(NAMES)}
    rows, _, _ = recommender.index.nearest(recommender.index.vector(query), 6)

    # +1 per task where a config beat the default, -1 where it lost: over all training
    # tasks, plus over the 6 nearest.
    signs = np.sign(np.nan_to_num(measured - measured[:, [default]], nan=0.0))
    count = signs.mean(axis=0) + signs[rows].mean(axis=0)
    recommender.set_choice = make_set_choice("wins_then_local", table, settings)
    chosen = recommender.choose(query, pool, 3)
    assert len(set(chosen)) == 3
    first = table.column[config_hash(pool[chosen[0]])]
    assert count[first] == pytest.approx(max(count[c] for c in in_table))
    # A config just ahead of the default on every task leads, however small its lead; the
    # local portfolio leads with the config of the best mean score instead.
    candidate = next(c for c in in_table if c != default)
    measured[:, candidate] = np.minimum(measured[:, default] + 1e-6, 1.0)
    measured[:, default] = np.minimum(measured[:, default], measured[:, candidate] - 1e-7)
    recommender.set_choice = make_set_choice("wins_then_local", table, settings)
    assert table.column[config_hash(pool[recommender.choose(query, pool, 1)[0]])] == candidate
    recommender.set_choice = make_set_choice("local_portfolio", table, settings)
    assert table.column[config_hash(pool[recommender.choose(query, pool, 1)[0]])] != candidate


def test_bundles_keep_measured_scores_and_serve_the_local_rules(tmp_path: Path) -> None:
    tasks, records = world(30, seed=5)
    bundle = _train(tasks, records, None, folds=0)
    assert set(bundle.task_scores) == set(tasks)
    served = ModelBundle(
        **{**bundle.__dict__, "training": dict(bundle.training, set_rules={1: "local_portfolio"})}
    )
    served.save(tmp_path / "local.wsb")
    loaded = load_bundle(tmp_path / "local.wsb")
    for task_id, scores in bundle.task_scores.items():
        assert loaded.task_scores[task_id] == pytest.approx(scores, abs=5e-5)
    query = {name: 0.3 + 0.1 * i for i, name in enumerate(NAMES)}
    answer = loaded.recommender().suggest(query, k=5)
    assert len({config_hash(s.config) for s in answer.suggestions}) == 5
    # Without the scores the rule cannot be served; bad scores are refused by name.
    for task_scores, message in (
        ({}, "serves local_portfolio but holds no measured task scores"),
        ({"t": {"h": 1.5}}, "is not a normalised score in"),
    ):
        odd = ModelBundle(**{**served.__dict__, "task_scores": task_scores})
        odd.save(tmp_path / "odd.wsb")
        with pytest.raises(FailedPreconditionError, match=message):
            load_bundle(tmp_path / "odd.wsb")
    # Older bundles, without measured scores, load and serve the other rules.
    older = ModelBundle(**{**bundle.__dict__, "task_scores": {}})
    older.save(tmp_path / "older.wsb")
    assert load_bundle(tmp_path / "older.wsb").recommender().suggest(query, k=3).suggestions
