"""Does the surrogate know what the training size does? A leave-family-out check.

On tasks evaluated both on a small sample (their smallest fidelity) and at a
larger size (their largest: all their rows, or the plan's largest cap, 120,000
rows of a table of 494,020), the configs evaluated at the largest size are
ranked, per held-out task, by four rules (the surrogate's predictions, or
measured scores) and compared with their measured ranking at that size:

- ``sized``: the surrogate trained on every record, asked for the largest size's rows;
- ``as sample``: the same surrogate asked for the sample's rows (what a model
  blind to size effectively answers, since its records were samples);
- ``blind``: a surrogate trained only on each task's primary fidelity (the
  sample, as before sizes were an input), no size input;
- ``sample scores``: the configs' measured scores on the sample (the best a
  benchmark at the sample's size can say).

Printed per rule: mean Spearman with the measured ranking at the largest size, mean
normalised regret of the top 1 and the best of the top 3 among those configs; then the
same over the tasks whose largest size is over :data:`LARGE_ROWS` rows.

    python -m warmstart.benchmarks.studies.train_size --db sqlite:///kb.db --space lightgbm
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr

from warmstart.benchmarks.studies._folds import fold_parser, load_folds
from warmstart.metamodel.bundle import TrainSettings, train_from_records
from warmstart.metamodel.portfolio import primary_records
from warmstart.metamodel.recommend import Recommender
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, RecordStatus

RULES = ("sized", "as sample", "blind", "sample scores")
LARGE_ROWS = 50_000
"""The second table covers the tasks measured at more rows than this."""


def _scores(records: Sequence[EvaluationRecord], fidelity: float) -> dict[str, float]:
    found = defaultdict(list)
    for r in records:
        if r.fidelity == fidelity and r.status is RecordStatus.OK and r.score is not None:
            found[r.config_hash].append(float(r.score))
    return {h: float(np.mean(v)) for h, v in found.items()}


def _regret(measured: np.ndarray, order: np.ndarray, k: int) -> float:
    span = measured.max() - measured.min()
    return 0.0 if span <= 0 else float((measured.max() - measured[order[:k]].max()) / span)


def _predict(
    recommender: Recommender,
    features: dict[str, float],
    pool: list[dict[str, ConfigValue]],
    train_rows: int | None,
) -> np.ndarray:
    """The surrogate's mean prediction for each config of ``pool`` on the task."""
    mean, _ = recommender.predict(features, pool, train_rows)
    return np.asarray(mean, dtype=float)


def main(argv: Sequence[str] | None = None) -> None:
    args = fold_parser(__doc__.splitlines()[0]).parse_args(argv)
    data = load_folds(args)
    settings = TrainSettings(surrogate=SurrogateParams(seed=args.seed), validation_folds=0)
    found: dict[str, dict[str, list[float]]] = {r: defaultdict(list) for r in RULES}
    large: dict[str, dict[str, list[float]]] = {r: defaultdict(list) for r in RULES}
    for fold in range(args.folds):
        held_out = [t for t, f in data.fold_of.items() if f == fold]
        sized_tasks = [t for t in held_out if len({r.fidelity for r in data.usable[t]}) > 1]
        if not sized_tasks:
            continue
        train = data.training_records(fold)
        common = (data.space, data.features, data.names, args.feature_version)
        sized = train_from_records(data.space, train, *common[1:], settings).recommender()
        blind = train_from_records(
            data.space, primary_records(train), *common[1:], settings
        ).recommender()
        for task_id in sized_tasks:
            records = data.usable[task_id]
            fidelities = sorted({r.fidelity for r in records})
            whole, sample = _scores(records, fidelities[-1]), _scores(records, fidelities[0])
            hashes = sorted(set(whole) & set(sample))
            if len(hashes) < 4:
                continue
            configs = {r.config_hash: dict(r.config) for r in records}
            pool = [configs[h] for h in hashes]
            measured = np.array([whole[h] for h in hashes])
            features = data.features[task_id].as_dict()
            n_rows = round(np.exp(features["log_n_rows"]))
            sample_rows = max(1, round(fidelities[0] * n_rows))
            whole_rows = max(1, round(fidelities[-1] * n_rows))
            predicted = {
                "sized": _predict(sized, features, pool, whole_rows),
                "as sample": _predict(sized, features, pool, sample_rows),
                "blind": _predict(blind, features, pool, None),
                "sample scores": np.array([sample[h] for h in hashes]),
            }
            for rule, values in predicted.items():
                order = np.argsort(-values, kind="stable")
                figures = {
                    "spearman": float(spearmanr(values, measured).statistic),
                    "regret@1": _regret(measured, order, 1),
                    "regret@3": _regret(measured, order, 3),
                }
                for into in (found, large) if whole_rows > LARGE_ROWS else (found,):
                    for name, value in figures.items():
                        into[rule][name].append(value)
    n = len(found["sized"]["spearman"])
    print(f"{args.space}: {n} held-out tasks with records at a sample and at a larger size")
    _print_table(found)
    n_large = len(large["sized"]["spearman"])
    if n_large:
        print(f"{n_large} of them measured at more than {LARGE_ROWS:,} rows")
        _print_table(large)


def _print_table(found: dict[str, dict[str, list[float]]]) -> None:
    print(f"{'rule':<14} {'spearman':>9} {'regret@1':>9} {'regret@3':>9}")
    for rule in RULES:
        cells = [float(np.nanmean(found[rule][m])) for m in ("spearman", "regret@1", "regret@3")]
        print(f"{rule:<14} {cells[0]:>9.3f} {cells[1]:>9.4f} {cells[2]:>9.4f}")


if __name__ == "__main__":
    main()
