"""Does a task x config factor model tell tasks apart better than the boosted surrogate? A study.

Issue 19 finds the surrogate's rankings of configs agree across tasks far more
than the measured ones do. Trees split on config parameters first and reach the
task's meta-features late, if at all; a factor model makes the interaction its
structure: a config's score on a task is a main effect of the config plus the
dot product of a task vector (a small network of the meta-features) and a
config vector (a small network of the encoded config), trained with torch on
each task's rank-normalised scores (the primary fidelity of every training
task). Its predictions are also blended with the boosted surrogate's,
``(1 - w) * surrogate + w * factor``.

Leave-family-out, and nothing chosen on the reported folds: for each outer
fold, the factor model's rank and epochs (:data:`VARIANTS`) and the blend
weight (:data:`WEIGHTS`; 0 is the surrogate alone) are chosen on inner family
folds of its training tasks, by the mean Spearman between predicted and
measured scores of the fold's fixed configs (the evaluation's task-dependence
set: the 32 best on the training tasks), ties to the smaller weight. Printed
for the outer folds' held-out tasks: that Spearman, the agreement of predicted
and measured rankings across tasks, and the regret of the predicted best among
each task's evaluated configs, for the surrogate alone, the chosen factor model
alone and the chosen blend.

    python -m warmstart.benchmarks.studies.factor_model --db sqlite:///kb.db --space lightgbm
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from warmstart.benchmarks.studies._folds import at_least, fold_parser, load_folds
from warmstart.benchmarks.studies._held_out import fixed_configs, held_out_pools
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.evaluation import (
    EvaluationData,
    RankedTask,
    agreement,
    family_folds,
    finite_mean,
    spearman_or_nan,
)
from warmstart.metamodel.portfolio import score_matrix
from warmstart.metamodel.spaces import load_configspace
from warmstart.metamodel.types import ConfigValue

VARIANTS = ((4, 30), (8, 60))
"""(rank, epochs) of the factor models the inner folds choose between."""
WEIGHTS = (0.0, 0.25, 0.5, 1.0)
"""Blend weights of the factor model the inner folds choose between."""
HIDDEN = 64
BATCH = 512


class _Net(torch.nn.Module):
    def __init__(self, task_inputs: int, config_inputs: int, rank: int) -> None:
        super().__init__()
        self.config = torch.nn.Sequential(
            torch.nn.Linear(config_inputs, HIDDEN),
            torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN, HIDDEN),
            torch.nn.ReLU(),
        )
        self.main = torch.nn.Linear(HIDDEN, 1)
        self.config_factor = torch.nn.Linear(HIDDEN, rank)
        self.task_factor = torch.nn.Sequential(
            torch.nn.Linear(task_inputs, HIDDEN),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.2),
            torch.nn.Linear(HIDDEN, rank),
        )

    def forward(self, tasks: torch.Tensor, configs: torch.Tensor) -> torch.Tensor:
        hidden = self.config(configs)
        interaction = (self.task_factor(tasks) * self.config_factor(hidden)).sum(-1)
        out: torch.Tensor = self.main(hidden).squeeze(-1) + interaction
        return out


def _standardiser(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return values.mean(axis=0), values.std(axis=0) + 1e-6


class FactorModel:
    """A config's main effect plus a task-vector x config-vector interaction (see the module).

    Args:
        encoder: The space's config encoder.
        rank: Length of the task and config vectors.
        epochs: Passes over the training rows (AdamW, weight decay 1e-4, batches of 512).
        seed: Seed of torch's initialisation and batch order.
    """

    def __init__(self, encoder: ConfigEncoder, rank: int, epochs: int, seed: int = 0) -> None:
        self.encoder, self.rank, self.epochs, self.seed = encoder, rank, epochs, seed

    def _task_values(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signed log of the meta-features, missing ones at the training mean; the mask."""
        missing = ~np.isfinite(features)
        values = np.where(missing, self._fill, features)
        return np.sign(values) * np.log1p(np.abs(values)), missing

    def _config_values(self, configs: Sequence[Mapping[str, ConfigValue]]) -> np.ndarray:
        """Encoded configs, inactive parameters at -1, with an inactive mask."""
        encoded = self.encoder.encode([dict(c) for c in configs])
        inactive = np.isnan(encoded)
        return np.hstack([np.where(inactive, -1.0, encoded), inactive])

    def _tasks(self, features: np.ndarray) -> np.ndarray:
        values, missing = self._task_values(features)
        return np.hstack([(values - self._task_mean) / self._task_std, missing])

    def _configs(self, configs: Sequence[Mapping[str, ConfigValue]]) -> np.ndarray:
        return np.asarray((self._config_values(configs) - self._config_mean) / self._config_std)

    def fit(
        self,
        features: np.ndarray,
        configs: Sequence[Mapping[str, ConfigValue]],
        targets: np.ndarray,
    ) -> FactorModel:
        """Train on a tasks x configs matrix of targets (NaN: not evaluated).

        Args:
            features: Tasks x meta-features (NaN: missing).
            configs: The matrix's configs (its columns).
            targets: Tasks x configs normalised scores.
        """
        torch.manual_seed(self.seed)
        known = np.isfinite(features)
        sums = np.where(known, features, 0.0).sum(axis=0)
        self._fill = sums / np.maximum(known.sum(axis=0), 1)  # 0 where a column is all missing
        self._task_mean, self._task_std = _standardiser(self._task_values(features)[0])
        self._config_mean, self._config_std = _standardiser(self._config_values(configs))
        tasks, columns = self._tasks(features), self._configs(configs)
        rows, cols = np.nonzero(np.isfinite(targets))
        x_task = torch.tensor(tasks[rows], dtype=torch.float32)
        x_config = torch.tensor(columns[cols], dtype=torch.float32)
        y = torch.tensor(targets[rows, cols], dtype=torch.float32)
        self._net = _Net(tasks.shape[1], columns.shape[1], self.rank)
        optimiser = torch.optim.AdamW(self._net.parameters(), lr=3e-3, weight_decay=1e-4)
        self._net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(y))
            for start in range(0, len(y), BATCH):
                batch = order[start : start + BATCH]
                optimiser.zero_grad()
                loss = ((self._net(x_task[batch], x_config[batch]) - y[batch]) ** 2).mean()
                loss.backward()
                optimiser.step()
        self._net.eval()
        return self

    def predict(
        self, features: np.ndarray, configs: Sequence[Mapping[str, ConfigValue]]
    ) -> np.ndarray:
        """Predicted normalised score of each config on the task of ``features``."""
        task = np.tile(self._tasks(features[None]), (len(configs), 1))
        with torch.no_grad():
            out = self._net(
                torch.tensor(task, dtype=torch.float32),
                torch.tensor(self._configs(configs), dtype=torch.float32),
            )
        return np.asarray(out.numpy(), dtype=float)


@dataclass
class _Held:
    """A held-out task's fixed-set scores by method, and its regret@1 over its pool."""

    ranked: RankedTask
    regret: dict[str, float]


def _key(variant: tuple[int, int], weight: float) -> str:
    return f"rank {variant[0]}, {variant[1]} epochs, weight {weight:g}"


def _fold(
    data: EvaluationData,
    fold: int,
    train_ids: Sequence[str],
    test_ids: Sequence[str],
    variants: Sequence[tuple[int, int]],
    feature_version: str,
) -> list[_Held]:
    """Train on ``train_ids`` and score every variant and weight on ``test_ids`` (of ``fold``)."""
    records = [r for t in train_ids for r in data.usable[t]]
    bundle = data.train(records, feature_version, TrainSettings(validation_folds=0))
    recommender = bundle.recommender()
    matrix = score_matrix(records, "rank")
    fixed = fixed_configs(records)
    encoder = ConfigEncoder(load_configspace(data.space))
    vectors = {t: np.asarray(data.features[t].values, dtype=float) for t in data.features}
    train_features = np.array([vectors[t] for t in matrix.task_ids])
    models = {
        v: FactorModel(encoder, *v).fit(train_features, matrix.configs, matrix.scores)
        for v in variants
    }
    held = []
    for task_id, pool, features in held_out_pools(data, test_ids, fixed):
        base, _ = recommender.predict(features, pool.configs)
        ranked = RankedTask(fold, pool.fixed, {"measured": pool.measured[pool.index]})
        regret = {}
        for variant, model in models.items():
            factor = model.predict(vectors[task_id], pool.configs)
            for weight in WEIGHTS:
                blend = (1 - weight) * np.asarray(base) + weight * factor
                ranked.scores[_key(variant, weight)] = blend[pool.index]
                regret[_key(variant, weight)] = pool.regret_of_best(blend)
        held.append(_Held(ranked, regret))
    return held


def _choose(
    held: Sequence[_Held], variants: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], float]:
    """The variant and weight with the best mean Spearman (ties: the smaller weight)."""
    found = {}
    for variant in variants:
        for weight in WEIGHTS:
            key = _key(variant, weight)
            rhos = [
                spearman_or_nan(h.ranked.scores[key], h.ranked.scores["measured"]) for h in held
            ]
            found[(variant, weight)] = (finite_mean(rhos), -weight)
    return max(found, key=lambda k: found[k])


def main(argv: Sequence[str] | None = None) -> None:
    parser = fold_parser(__doc__.splitlines()[0])
    parser.add_argument("--inner-folds", type=at_least(2), default=3)
    args = parser.parse_args(argv)
    data = load_folds(args)
    rows: dict[str, list[tuple[RankedTask, float]]] = defaultdict(list)
    chosen: list[tuple[tuple[int, int], float]] = []
    for fold in range(args.folds):
        train_ids = sorted(t for t, f in data.fold_of.items() if f != fold)
        test_ids = sorted(t for t, f in data.fold_of.items() if f == fold)
        inner_of = family_folds(
            {t: data.families[t] for t in train_ids}, args.inner_folds, args.seed
        )
        inner: list[_Held] = []
        for q in range(args.inner_folds):
            kept = [t for t in train_ids if inner_of[t] != q]
            out = [t for t in train_ids if inner_of[t] == q]
            inner += _fold(data, q, kept, out, VARIANTS, args.feature_version)
        variant, weight = _choose(inner, VARIANTS)
        chosen.append((variant, weight))
        for held in _fold(data, fold, train_ids, test_ids, [variant], args.feature_version):
            methods = {
                "surrogate alone": _key(variant, 0.0),
                "factor model alone": _key(variant, 1.0),
                "blend, chosen inside": _key(variant, weight),
            }
            for name, key in methods.items():
                scores = {"predicted": held.ranked.scores[key], **held.ranked.scores}
                task = RankedTask(held.ranked.fold, held.ranked.hashes, scores)
                rows[name].append((task, held.regret[key]))
    print(f"{args.space}: {len(rows['surrogate alone'])} held-out tasks, {args.folds} folds")
    for fold, (variant, weight) in enumerate(chosen):
        print(f"fold {fold}: chosen on {args.inner_folds} inner folds: {_key(variant, weight)}")
    print("| model | Spearman | agreement, predicted | agreement, measured | regret@1 |")
    print("|---|---|---|---|---|")
    for name, found in rows.items():
        tasks = [t for t, _ in found]
        rho = finite_mean(
            [spearman_or_nan(t.scores["predicted"], t.scores["measured"]) for t in tasks]
        )
        print(
            f"| {name} | {rho:.3f} | {agreement(tasks, 'predicted'):.3f} | "
            f"{agreement(tasks, 'measured'):.3f} | {np.mean([r for _, r in found]):.4f} |"
        )


if __name__ == "__main__":
    main()
