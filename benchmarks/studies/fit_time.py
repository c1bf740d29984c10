"""Does a time limit keep out the fits that break it? A leave-family-out check.

A request's ``max_fit_seconds`` keeps a config where its predicted fit time, times
the fit-time model's margin (:attr:`~warmstart.metamodel.surrogate.Surrogate.fit_time_margin`),
is within the limit. On each fold's held-out tasks, for the records whose measured
fit took at least 1, 10 and 30 s, this prints the share the prediction alone
covers (predicted >= measured) and the share the prediction times the margin
covers, and how many fast fits (under 1 s) the margin pushes over 1 s: what the
limit costs in configs it need not have left out.

    python -m warmstart.benchmarks.studies.fit_time --db sqlite:///kb.db --space lightgbm
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from warmstart.benchmarks.studies._folds import fold_parser, load_folds
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.spaces import load_configspace
from warmstart.metamodel.surrogate import Surrogate, SurrogateParams, build_training_table

THRESHOLDS = (1.0, 10.0, 30.0)


def main(argv: Sequence[str] | None = None) -> None:
    args = fold_parser(__doc__.splitlines()[0]).parse_args(argv)
    data = load_folds(args)
    encoder = ConfigEncoder(load_configspace(data.space))
    predicted, measured, margins = [], [], []
    for fold in range(args.folds):
        table = build_training_table(data.training_records(fold), data.features, encoder)
        held = [r for t, f in data.fold_of.items() if f == fold for r in data.usable[t]]
        held_table = build_training_table(held, data.features, encoder)
        surrogate = Surrogate.fit(table, SurrogateParams(n_models=1, seed=args.seed))
        known = np.isfinite(held_table.log_fit_seconds)
        predicted.append(surrogate.predict_fit_seconds(held_table.X[known]))
        measured.append(np.expm1(held_table.log_fit_seconds[known]))
        margins.append(np.full(int(known.sum()), surrogate.fit_time_margin))
        print(f"fold {fold}: margin {surrogate.fit_time_margin:.2f}")
    p, t, m = (np.concatenate(x) for x in (predicted, measured, margins))
    print("| measured fit | records | covered by the prediction | by the prediction x margin |")
    print("|---|---|---|---|")
    for low in THRESHOLDS:
        slow = t >= low
        if slow.any():
            alone, padded = np.mean(p[slow] >= t[slow]), np.mean(p[slow] * m[slow] >= t[slow])
            print(f"| >= {low:g} s | {int(slow.sum())} | {alone:.2f} | {padded:.2f} |")
    fast = t < 1.0
    if fast.any():
        print(f"fits under 1 s put over 1 s by the margin: {np.mean(p[fast] * m[fast] > 1.0):.3f}")


if __name__ == "__main__":
    main()
