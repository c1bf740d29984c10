"""How often can one config chosen without trying it beat the library default? A pool study.

Issue 19 asks that warmstart's top-1 beat the library default on most held-out
tasks where the two differ. This study asks how far simple rules built from the
training tasks' measured scores get on that measure, so that the target can be
read against what is reachable. On the configs every task of the space has (the
default among them; ``--coverage`` to take those most tasks have, on the tasks that
have them all), leave-family-out, each rule picks one config per held-out
task from the training tasks alone:

- ``single best``: the best mean normalised score over the training tasks;
- ``most wins``: the config that beats the default on the most training tasks;
- ``nearest N``: the best mean over the N nearest training tasks (meta-features
  standardised, missing values at the column mean);
- ``gated N``: ``nearest N``'s pick where it beats the default on at least
  :data:`GATE` of those N tasks, else the default;
- ``gated N, gate chosen inside``: the same with the gate chosen per fold on
  inner family folds of the training tasks, as a bundle would choose it: the
  lowest of :data:`GATES` whose inner picks beat the default on at least
  :data:`TARGET_SHARE` of the inner tasks where they differ (over at least
  :data:`MIN_DEPARTURES` of them), else no departure from the default.

Two figures of the held-out tasks themselves bound what rules of one config can
do: the fixed config that beats the default where they differ most often, chosen
in hindsight, and the share of tasks where the default is already the best
(ties included). Printed: each rule's mean regret@1 and its wins / ties / losses
against the default.

    python -m warmstart.benchmarks.studies.default_wins --db sqlite:///kb.db --space lightgbm
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from warmstart.benchmarks.studies._folds import fold_parser, load_folds
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.evaluation import EvaluationData, family_folds
from warmstart.metamodel.portfolio import config_means, primary_records
from warmstart.metamodel.spaces import config_hash, default_config, load_configspace

GATE = 0.6
"""``gated N`` keeps its pick where it beats the default on at least this share of the N."""
GATES = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
"""The gates an inner choice tries, lowest first."""
TARGET_SHARE = 0.75
"""The share of wins where the pick and the default differ that the inner choice asks for
(issue 19's target for the top-1 against the default)."""
MIN_DEPARTURES = 5
"""Inner departures from the default fewer than this say nothing about a gate's share."""
INNER_FOLDS = 4
"""Inner family folds the gate is chosen on."""
_TIE = 1e-12


def _matrix(data: EvaluationData, coverage: float = 1.0) -> tuple[list[str], list[str], np.ndarray]:
    """Tasks, configs (hashes) and tasks x configs normalised scores (1 the task's best
    among them, 0 its worst; a failure counts as the worst).

    The configs are those at least ``coverage`` of the tasks have, and the tasks those
    that have every one of them (1.0: the configs every task has, and every task).
    """
    scores: dict[str, dict[str, float]] = {}
    for task, records in data.usable.items():
        scores[task] = config_means(primary_records(records))
    held = Counter(h for task_scores in scores.values() for h in task_scores)
    common = sorted(h for h, n in held.items() if n >= coverage * len(scores))
    tasks = sorted(t for t, s in scores.items() if all(h in s for h in common))
    raw = np.array([[scores[t][h] for h in common] for t in tasks])
    low, high = np.nanmin(raw, axis=1, keepdims=True), np.nanmax(raw, axis=1, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    return tasks, common, np.where(np.isfinite(raw), (raw - low) / span, 0.0)


def _features(data: EvaluationData, tasks: list[str]) -> np.ndarray:
    values = np.array([data.features[t].values for t in tasks], dtype=float)
    means = np.nanmean(np.where(np.isfinite(values), values, np.nan), axis=0)
    values = np.where(np.isfinite(values), values, np.nan_to_num(means))
    return np.asarray((values - values.mean(axis=0)) / (values.std(axis=0) + 1e-9))


def _beats(scores: np.ndarray, default: int) -> np.ndarray:
    """Per config, the share of the rows (tasks) where it scores above the default."""
    return np.asarray((scores > scores[:, [default]] + _TIE).mean(axis=0))


def _picks(train: np.ndarray, near: np.ndarray, default: int, ns: Sequence[int]) -> dict[str, int]:
    mean = train.mean(axis=0)
    picks = {
        "default": default,
        "single best": int(np.argmax(mean)),
        "most wins": int(np.lexsort((mean, _beats(train, default)))[-1]),
    }
    for n in ns:
        local = train[near[:n]]
        best = int(np.argmax(local.mean(axis=0)))
        picks[f"nearest {n}"] = best
        picks[f"gated {n}"] = best if _beats(local, default)[best] >= GATE else default
    return picks


def _nearest_picks(
    features: np.ndarray,
    scores: np.ndarray,
    train: np.ndarray,
    held: np.ndarray,
    default: int,
    n: int,
) -> list[tuple[int, float]]:
    """Per task of ``held``: ``nearest n``'s pick among ``train`` and the share of those n
    tasks where it beats the default."""
    out = []
    for i in held:
        distance = np.linalg.norm(features[train] - features[i], axis=1)
        local = scores[train[np.argsort(distance, kind="stable")[:n]]]
        best = int(np.argmax(local.mean(axis=0)))
        out.append((best, float(_beats(local, default)[best])))
    return out


def _gated(picks: list[tuple[int, float]], gate: float, default: int) -> list[int]:
    return [best if share >= gate else default for best, share in picks]


def _inner_gate(
    features: np.ndarray,
    scores: np.ndarray,
    train: np.ndarray,
    families: np.ndarray,
    default: int,
    n: int,
    seed: int,
) -> float:
    """The lowest gate whose picks, on inner family folds of ``train``, beat the default on
    :data:`TARGET_SHARE` of the tasks where they differ; above 1 (never depart) if none."""
    inner_of = family_folds({str(i): str(families[i]) for i in train}, INNER_FOLDS, seed)
    inner = np.array([inner_of[str(i)] for i in train])
    wins, losses = np.zeros(len(GATES)), np.zeros(len(GATES))
    for q in range(INNER_FOLDS):
        kept, held = train[inner != q], train[inner == q]
        picks = _nearest_picks(features, scores, kept, held, default, n)
        for g, gate in enumerate(GATES):
            chosen = np.array(_gated(picks, gate, default))
            gain = scores[held, chosen] - scores[held, default]
            wins[g] += int((gain > _TIE).sum())
            losses[g] += int((gain < -_TIE).sum())
    for g, gate in enumerate(GATES):
        departures = wins[g] + losses[g]
        if departures >= MIN_DEPARTURES and wins[g] / departures >= TARGET_SHARE:
            return gate
    return np.inf


def _line(name: str, regret: np.ndarray, against: np.ndarray) -> str:
    wins = int((regret < against - _TIE).sum())
    losses = int((regret > against + _TIE).sum())
    share = wins / max(wins + losses, 1)
    ties = len(regret) - wins - losses
    return f"| {name} | {regret.mean():.4f} | {wins}/{ties}/{losses} | {share:.0%} |"


def main(argv: Sequence[str] | None = None) -> None:
    parser = fold_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--neighbours", default="10,25", help="Comma-separated N of the nearest rules."
    )
    parser.add_argument(
        "--coverage",
        type=float,
        default=1.0,
        help="Study the configs at least this share of the tasks have, on the tasks that "
        "have them all (1: the configs every task has).",
    )
    args = parser.parse_args(argv)
    if not 0.0 < args.coverage <= 1.0:
        parser.error(f"--coverage must be in (0, 1], got {args.coverage}")
    ns = [int(n) for n in args.neighbours.split(",")]
    data = load_folds(args)
    tasks, hashes, scores = _matrix(data, args.coverage)
    default_hash = config_hash(default_config(load_configspace(data.space)))
    if default_hash not in hashes:
        raise FailedPreconditionError(
            f"the default config of {args.space!r} is not among the configs studied "
            f"(held by at least {args.coverage:.0%} of the tasks): the study compares with it"
        )
    default = hashes.index(default_hash)
    regret = 1.0 - scores
    features = _features(data, tasks)
    fold = np.array([data.fold_of[t] for t in tasks])
    families = np.array([data.families[t] for t in tasks])
    chosen: dict[str, list[float]] = defaultdict(list)
    order: list[int] = []
    gates: dict[int, list[float]] = defaultdict(list)
    for f in range(args.folds):
        train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        for i in held:
            near = np.argsort(np.linalg.norm(features[train] - features[i], axis=1), kind="stable")
            for name, j in _picks(scores[train], near, default, ns).items():
                chosen[name].append(float(regret[i, j]))
            order.append(int(i))
        for n in ns:
            gate = _inner_gate(features, scores, train, families, default, n, args.seed)
            gates[n].append(gate)
            picks = _nearest_picks(features, scores, train, held, default, n)
            name = f"gated {n}, gate chosen inside"
            chosen[name] += [
                float(regret[i, j]) for i, j in zip(held, _gated(picks, gate, default), strict=True)
            ]
    against = regret[order, default]
    held_by = "every task has" if args.coverage == 1.0 else "all of these tasks have"
    print(f"{args.space}: {len(tasks)} held-out tasks, {len(hashes)} configs {held_by}")
    print("| rule | regret@1 | against the default (W/T/L) | wins where they differ |")
    print("|---|---|---|---|")
    for name, values in chosen.items():
        print(_line(name, np.asarray(values), against))
    wins = (regret < regret[:, [default]] - _TIE).sum(axis=0)
    losses = (regret > regret[:, [default]] + _TIE).sum(axis=0)
    share = wins / np.maximum(wins + losses, 1)
    share[default] = 0.0
    best = int(np.argmax(share))
    print(_line("fixed config chosen in hindsight on these tasks", regret[order, best], against))
    for n, chosen_gates in gates.items():
        shown = ", ".join("never" if not np.isfinite(g) else f"{g:.2f}" for g in chosen_gates)
        print(f"gated {n}: the gates chosen inside, fold by fold: {shown}")
    at_best = float(np.mean(regret[:, default] <= _TIE))
    print(f"the default is the best of these configs (ties included) on {at_best:.0%} of tasks")


if __name__ == "__main__":
    main()
