"""Choosing a bundle's set rule on inner splits of its own training tasks.

Which set rule serves a space best is an empirical question: in some spaces the
surrogate ranks configs within a task better than any fixed list, in others the
greedy portfolio covers the kinds of task better than the model's picks. The
answer is found the way an evaluation would find it, but only on the training
data: the training tasks are split into folds by family, a bundle is trained on
all folds but one, and each rule chooses, for every task of the held-out fold,
among the configs evaluated on it (pool mode). At each k of 1, 3, 5 and 10 the
rule with the lowest mean normalised regret is served for requests of that k
and up to the next, but a rule that needs the model is served only where it
beats the best of the free rules (:data:`BASELINE_RULES`: the default config then
the portfolio, the portfolio, the nearest-neighbour warm start) by more than the
standard error of their paired per-task difference; else that free rule is
served. The burden of proof is on the model: the folds are small, a rule chosen
on noise serves worse than a free one, and a user is owed at least what the free
baselines give. Choosing a rule for each k makes four choices on the same
few tasks, each open to noise; choosing one rule for every k (on the regret
averaged over the ks) makes one. Which of the two procedures serves is itself
decided on the inner folds: each procedure chooses without one inner fold and
is scored on it, and the one with the lower held-out regret chooses the rules
on all the inner folds. The figures of every rule go into the bundle's
metrics, so ``model info`` and GetModelInfo show why. Where the training tasks'
probe scores are given, every rule that reads the task's description is also
measured reading the task's probes (``<rule>+probes``): served only where it beats
beyond noise both the best rule that reads no probes and the best free rule, and only
at the ks where it does. An evaluation that trains
a bundle per outer fold thus chooses each fold's rules on that fold's training
tasks alone, never on the tasks it reports.

Each pool is asked about at the rows its configs were trained on
(:mod:`warmstart.metamodel.pools`). Where enough held-out tasks also have a
full-size pool (configs trained on their whole table), every rule that reads no
probes is measured there too, and requests for more rows than the primary pools
held follow rules of their own: at each k the rule chosen for samples, unless
another beats it on the full-size pools beyond noise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from warmstart.metamodel.pools import TaskPool, full_size_pool, primary_pool, score_spread
from warmstart.metamodel.probes import PROBED_SUFFIX, probe_request, split_rule
from warmstart.metamodel.recommend import SET_RULES, Recommender
from warmstart.metamodel.recommend._set_choice import make_set_choice
from warmstart.metamodel.types import EvaluationRecord, TaskFeatures

__all__ = [
    "BASELINE_RULES",
    "DEFAULT_RULE",
    "MIN_FULL_SIZE_TASKS",
    "VALIDATION_KS",
    "InnerFolds",
    "RuleValidation",
    "choose_set_rule",
    "inner_folds",
]

DEFAULT_RULE = "expected_best"
"""Served where no validation could be run (too few families for inner folds)."""
BASELINE_RULES = ("default_then_portfolio", "portfolio", "nearest_best")
"""The free rules: what a user gets without a model (the library default, robust configs,
the nearest task's best). The best of them is served unless a model rule beats it."""
NOISE_ERRORS = 1.0
"""A model rule is served where it beats the best free rule by more than this many
standard errors of the paired per-task difference (one-sided, about 84% sure)."""
PROBE_NOISE_ERRORS = 2.0
"""A rule that reads probes must beat the best rule that reads none by more than this many
standard errors (about 98% sure): probes cost the user seconds, and a model trained with
them differs from one trained without by more than what the probes tell, so a one-error
margin lets a difference of a task or two through."""

VALIDATION_KS = (1, 3, 5, 10)
"""The k at which rules are compared; the mean over them decides."""
MIN_FULL_SIZE_TASKS = 12
"""Rules are chosen apart for requests above the primary pools' size only where at least
this many held-out tasks have a full-size pool (:mod:`warmstart.metamodel.pools`)."""


@dataclass(frozen=True)
class RuleValidation:
    """What the inner validation measured, and the rule it chose.

    Attributes:
        rules: The chosen set rule per smallest k (``{1: ..., 3: ..., 5: ..., 10: ...}``).
        regret: Mean normalised regret of each rule at each k over the held-out tasks.
        n_tasks: Held-out tasks measured (each once).
        n_folds: Inner folds.
        procedure: How ``rules`` were chosen (a key of :data:`PROCEDURES`).
        procedure_regret: Each procedure's regret on the inner folds it did not choose on.
    """

    rules: Mapping[int, str]
    regret: Mapping[str, Mapping[int, float]]
    n_tasks: int
    n_folds: int
    procedure: str = "rule_per_k"
    procedure_regret: Mapping[str, float] = field(default_factory=dict)
    per_task: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    """Each rule's regret per held-out task (rows) and k (columns, :data:`VALIDATION_KS`)."""
    task_folds: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=int), repr=False, compare=False
    )
    """Each row's inner fold."""
    full_size: RuleValidation | None = None
    """The same rules measured on the held-out tasks' full-size pools, asked at those
    sizes, and the rules chosen there: served to requests for more rows than
    ``full_size_above`` (None: too few such tasks, :data:`MIN_FULL_SIZE_TASKS`)."""
    full_size_above: int | None = None
    """The largest primary pool's rows among those tasks: the size above which a request
    is served ``full_size``'s rules."""

    def restricted(self, keep: Callable[[str], bool]) -> RuleValidation:
        """The validation as if only the rules ``keep`` accepts had been measured: the same
        per-task figures, the choice made again among them (a bundle that reads probes at
        no k is chosen among the rules that read none, without measuring them again).

        Raises:
            ValueError: No measured rule is kept.
        """
        rules = [r for r in self.per_task if keep(r)]
        if not rules:
            raise ValueError("no measured set rule is kept")
        table = {r: self.per_task[r] for r in rules}
        found = _decided(table, self.task_folds, rules, self.n_tasks, self.n_folds)
        full = self.full_size
        if full is not None:
            kept = [r for r in full.per_task if keep(r)]
            full = _full_size_decided(
                {r: full.per_task[r] for r in kept},
                full.task_folds,
                kept,
                found.rules,
                full.n_folds,
            )
        return replace(found, full_size=full, full_size_above=self.full_size_above)

    def metrics(self) -> dict[str, float]:
        """Flat figures for a bundle's metrics (``validation.<rule>.regret@<k>``, and
        ``validation.procedure.<name>``: each procedure's held-out regret)."""
        out = {"validation.tasks": float(self.n_tasks), "validation.folds": float(self.n_folds)}
        for name, value in self.procedure_regret.items():
            out[f"validation.procedure.{name}"] = float(value)
        for k, rule in self.rules.items():
            out[f"validation.served.regret@{k}"] = float(self.regret[rule][k])
        for rule, by_k in self.regret.items():
            for k, value in by_k.items():
                out[f"validation.{rule}.regret@{k}"] = float(value)
        if self.full_size is not None and self.full_size_above is not None:
            out["validation.full_size.above_rows"] = float(self.full_size_above)
            out |= {
                f"validation.full_size.{name.removeprefix('validation.')}": value
                for name, value in self.full_size.metrics().items()
            }
        return out


@dataclass(frozen=True)
class InnerFolds:
    """The training tasks split into inner family folds, as every inner choice splits them.

    Attributes:
        by_task: Each described task's records.
        scores: Each described task's mean score per config hash (its primary fidelity).
        rows: The rows each task's primary scores were trained on (None: size unknown).
        full: The full-size pool of each task that has one.
        usable: The tasks with two or more distinct scores, sorted: the ones measured.
        fold_of_family: Each family's inner fold.
        families: Each task's family.
        n_folds: Inner folds.
    """

    by_task: Mapping[str, list[EvaluationRecord]]
    scores: Mapping[str, Mapping[str, float]]
    usable: list[str]
    fold_of_family: Mapping[str, int]
    families: Mapping[str, str]
    n_folds: int
    rows: Mapping[str, int | None] = field(default_factory=dict)
    full: Mapping[str, TaskPool] = field(default_factory=dict)

    def split(self, fold: int) -> tuple[list[str], list[EvaluationRecord]]:
        """The usable tasks of ``fold`` and every record of the other folds' tasks."""
        held_out = [t for t in self.usable if self.fold_of_family[self.families[t]] == fold]
        kept = [
            r
            for t, rs in self.by_task.items()
            if self.fold_of_family.get(self.families[t]) != fold
            for r in rs
        ]
        return held_out, kept


def inner_folds(
    records: Sequence[EvaluationRecord],
    features: Mapping[str, TaskFeatures],
    families: Mapping[str, str],
    n_folds: int,
    seed: int,
) -> InnerFolds | None:
    """Split the described tasks of ``records`` into ``n_folds`` family folds (drawn with
    ``seed``); None when fewer families than folds have usable tasks."""
    by_task: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        described = features.get(record.task_id)
        if described is not None and not described.all_missing and record.task_id in families:
            by_task[record.task_id].append(record)
    pools = {t: primary_pool(rs, features.get(t)) for t, rs in by_task.items()}
    scores = {t: p.scores for t, p in pools.items()}
    usable = sorted(t for t, s in scores.items() if score_spread(s) > 0)
    names = sorted({families[t] for t in usable})
    if n_folds < 2 or len(names) < n_folds:
        return None
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of_family = {names[i]: position % n_folds for position, i in enumerate(order)}
    full = {
        t: pool
        for t in usable
        if (pool := full_size_pool(by_task[t], features.get(t))) is not None
        and pool.rows is not None
        and pool.spread > 0
    }
    return InnerFolds(
        dict(by_task),
        scores,
        usable,
        fold_of_family,
        families,
        n_folds,
        {t: p.rows for t, p in pools.items()},
        full,
    )


def choose_set_rule(
    records: Sequence[EvaluationRecord],
    features: Mapping[str, TaskFeatures],
    families: Mapping[str, str],
    n_folds: int,
    seed: int,
    train: Callable[[list[EvaluationRecord]], Recommender],
    rules: Sequence[str] = SET_RULES,
    probe_scores: Mapping[str, Mapping[str, float]] | None = None,
    train_probed: Callable[[list[EvaluationRecord]], Recommender] | None = None,
) -> RuleValidation | None:
    """Measure each rule on inner family folds of the training tasks; choose the best.

    Args:
        records: The training records.
        features: Meta-features by task id.
        families: Family of each task (tasks of one family share a fold).
        n_folds: Inner folds.
        seed: Seed of the fold assignment.
        train: Trains a recommender on some of the records.
        rules: The rules to compare (ties go to the earlier).
        probe_scores: Each task's probe scores by config hash: given (with
            ``train_probed``), each rule but the portfolio's is also compared reading them.
        train_probed: Trains a recommender that reads probes (it chooses them among
            ``probe_scores``). The rules that read none are measured on ``train``'s
            recommender, one trained without probes: reading probes is compared with
            having none, not with a probe model that is told nothing.

    Returns:
        The validation, or None when fewer families than folds have usable tasks.
    """
    folds = inner_folds(records, features, families, n_folds, seed)
    if folds is None:
        return None
    by_task, scores = folds.by_task, folds.scores
    if probe_scores is not None and train_probed is not None:
        rules = [
            *rules,
            *(r + PROBED_SUFFIX for r in rules if r not in ("portfolio", "default_then_portfolio")),
        ]
    plain_rules = [r for r in rules if not split_rule(r)[1]]
    found: dict[str, dict[int, list[float]]] = {r: defaultdict(list) for r in rules}
    found_full: dict[str, dict[int, list[float]]] = {r: defaultdict(list) for r in plain_rules}
    task_folds: list[int] = []  # each measured task's inner fold, in the order of ``found``
    full_folds: list[int] = []
    measured = 0
    for fold in range(n_folds):
        held_out, kept = folds.split(fold)
        full = [t for t in held_out if t in folds.full]
        plain = train(kept)
        with_probes = train_probed(kept) if train_probed is not None else None
        for rule in rules:
            base, probed = split_rule(rule)
            recommender = with_probes if probed and with_probes is not None else plain
            recommender.set_choice = make_set_choice(base, recommender.table, recommender.settings)
            recommender.probe_reading = {1: probed and bool(recommender.probes.probes)}
            for task_id in held_out:
                configs = {r.config_hash: dict(r.config) for r in by_task[task_id]}
                asked = features[task_id].as_dict()
                if probed and probe_scores is not None:
                    asked |= probe_request(probe_scores.get(task_id, {}))
                pools = [(scores[task_id], folds.rows.get(task_id), found)]
                if not probed and task_id in full:
                    pool = folds.full[task_id]
                    pools.append((pool.scores, pool.rows, found_full))
                for measured_scores, rows, into in pools:
                    hashes = sorted(measured_scores)
                    chosen = recommender.choose(
                        asked, [configs[h] for h in hashes], max(VALIDATION_KS), rows
                    )
                    for k, value in _regret(measured_scores, [hashes[i] for i in chosen]).items():
                        into[rule][k].append(value)
        measured += len(held_out)
        task_folds += [fold] * len(held_out)
        full_folds += [fold] * len(full)
    table = {r: np.array([found[r][k] for k in VALIDATION_KS]).T for r in rules}  # tasks x ks
    chosen_rules = _decided(table, np.array(task_folds), rules, measured, n_folds)
    if len(full_folds) < MIN_FULL_SIZE_TASKS or len(set(full_folds)) < 2:
        return chosen_rules
    full_table = {r: np.array([found_full[r][k] for k in VALIDATION_KS]).T for r in plain_rules}
    at_full_size = _full_size_decided(
        full_table, np.array(full_folds), plain_rules, chosen_rules.rules, n_folds
    )
    above = max(folds.rows[t] or 0 for t in folds.full)
    return replace(chosen_rules, full_size=at_full_size, full_size_above=above)


def _full_size_decided(
    table: Mapping[str, np.ndarray],
    folds_of: np.ndarray,
    rules: Sequence[str],
    served: Mapping[int, str],
    n_folds: int,
) -> RuleValidation:
    """The rules for whole tables: at each k the rule ``served`` there (its version that
    reads no probes), unless another rule beats it on the full-size pools beyond noise.
    Few tasks have a full-size pool and their regrets are heavy-tailed (one table where a
    config fails carries a mean), so the evidence must be clear to serve whole tables
    otherwise than samples."""
    found = {r: {k: list(table[r][:, i]) for i, k in enumerate(VALIDATION_KS)} for r in rules}
    chosen: dict[int, str] = {}
    for k in VALIDATION_KS:
        reference = split_rule(served[max(key for key in served if key <= k)])[0]
        best = min(rules, key=lambda r: (float(np.mean(found[r][k])), rules.index(r)))
        beaten = reference in found and _beats(found[best][k], found[reference][k])
        chosen[k] = best if beaten or reference not in found else reference
    regret = {r: {k: float(np.mean(found[r][k])) for k in VALIDATION_KS} for r in rules}
    return RuleValidation(
        chosen, regret, len(folds_of), n_folds, "reference_per_k", {}, dict(table), folds_of
    )


def _beats(rule: Sequence[float], reference: Sequence[float], errors: float = NOISE_ERRORS) -> bool:
    """Whether per-task regrets ``rule`` are below ``reference``'s by more than ``errors``
    standard errors of the paired difference."""
    diff = np.asarray(reference) - np.asarray(rule)
    if len(diff) < 2:
        return False
    error = float(np.std(diff, ddof=1) / np.sqrt(len(diff)))
    return float(diff.mean()) > errors * error


def _decided(
    table: Mapping[str, np.ndarray],
    folds_of: np.ndarray,
    rules: Sequence[str],
    n_tasks: int,
    n_folds: int,
) -> RuleValidation:
    """The served rules chosen from every rule's per-task regrets (tasks x ks)."""
    regret = {
        r: {
            k: float(np.mean(np.ascontiguousarray(table[r][:, i])))
            for i, k in enumerate(VALIDATION_KS)
        }
        for r in rules
    }
    held_out_regret = {
        name: _cross_validated(procedure, table, folds_of, rules)
        for name, procedure in PROCEDURES.items()
    }
    # The procedure whose choices, made without a fold, served that fold best; ties go to
    # the first (one rule for every k: fewer choices made on the same tasks).
    procedure = min(PROCEDURES, key=lambda n: (held_out_regret[n], list(PROCEDURES).index(n)))
    served = PROCEDURES[procedure](table, rules)
    return RuleValidation(
        served, regret, n_tasks, n_folds, procedure, held_out_regret, dict(table), folds_of
    )


def _one_rule(table: Mapping[str, np.ndarray], rules: Sequence[str]) -> dict[int, str]:
    """One rule for every k: the lowest regret averaged over the ks, a model rule only
    where it beats the best free rule beyond noise (on the per-task averages)."""
    averaged = {r: {0: list(table[r].mean(axis=1))} for r in rules}
    rule = _chosen(averaged, 0, rules)
    return dict.fromkeys(VALIDATION_KS, rule)


def _rule_per_k(table: Mapping[str, np.ndarray], rules: Sequence[str]) -> dict[int, str]:
    """A rule for each k, each chosen at its k alone (a model rule beyond noise against the
    best free rule)."""
    found = {r: {k: list(table[r][:, i]) for i, k in enumerate(VALIDATION_KS)} for r in rules}
    return {k: _chosen(found, k, rules) for k in VALIDATION_KS}


PROCEDURES: dict[str, Callable[[Mapping[str, np.ndarray], Sequence[str]], dict[int, str]]] = {
    "one_rule": _one_rule,
    "rule_per_k": _rule_per_k,
}
"""How the served rules are chosen from the rules' inner regrets (tasks x ks per rule)."""


def _cross_validated(
    procedure: Callable[[Mapping[str, np.ndarray], Sequence[str]], dict[int, str]],
    table: Mapping[str, np.ndarray],
    folds_of: np.ndarray,
    rules: Sequence[str],
) -> float:
    """Mean regret over tasks and ks of the rules ``procedure`` chooses without each inner
    fold, on that fold's tasks: how well the procedure's choices carry to other tasks."""
    total, count = 0.0, 0
    for fold in np.unique(folds_of).tolist():
        inside = folds_of == fold
        chosen = procedure({r: t[~inside] for r, t in table.items()}, rules)
        for i, k in enumerate(VALIDATION_KS):
            total += float(table[chosen[k]][inside, i].sum())
        count += int(inside.sum()) * len(VALIDATION_KS)
    return total / max(count, 1)


def _chosen(found: Mapping[str, Mapping[int, list[float]]], k: int, rules: Sequence[str]) -> str:
    """The best rule at k; a model rule only if it beats the best free rule beyond noise,
    else that free rule. A rule that reads probes must first beat the best rule that reads
    none beyond noise: probes cost the user seconds, and reading them is one more choice
    made on the same few tasks. Without free rules among ``rules``, the reference is
    :data:`DEFAULT_RULE` (or the first rule); ties go to the earlier rule."""
    free = [r for r in rules if r in BASELINE_RULES] or [
        DEFAULT_RULE if DEFAULT_RULE in rules else rules[0]
    ]

    def mean(rule: str) -> tuple[float, int]:
        return float(np.mean(found[rule][k])), rules.index(rule)

    def beats(rule: str, reference: str, errors: float = NOISE_ERRORS) -> bool:
        return _beats(found[rule][k], found[reference][k], errors)

    best, reference = min(rules, key=mean), min(free, key=mean)
    if split_rule(best)[1]:
        plain = min((r for r in rules if not split_rule(r)[1]), key=mean)
        if not beats(best, plain, PROBE_NOISE_ERRORS):
            best = plain
    if best in free or beats(best, reference):
        return best
    return reference


def _regret(scores: Mapping[str, float], order: Sequence[str]) -> dict[int, float]:
    """Normalised regret of the best of the first k of ``order`` (a failure counts as worst)."""
    finite = [s for s in scores.values() if np.isfinite(s)]
    best, worst = max(finite), min(finite)
    out = {}
    for k in VALIDATION_KS:
        got = max((scores[h] for h in order[:k] if np.isfinite(scores[h])), default=worst)
        out[k] = float((best - got) / (best - worst))
    return out
