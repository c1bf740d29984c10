"""Top-k warm-start configs for a task: candidates, scoring, and a set that is good and varied.

Candidates: the library default, the greedy portfolio, the best configs of the
most similar training tasks, and quasi-random (Sobol) samples of the space;
optionally also local refinements around the best-scoring of those. All but
the refinements are known when the model loads, so they are encoded once, and
the ensemble's predictions for them *on each training task* are computed once
(on first use) and kept: the "world table". A request then costs the
ensemble's predictions on its own task for a few dozen candidates:

1. The samples are screened by the world table: each sample's mean predicted
   score on the task's nearest training tasks. Only the best ``n_screened``
   are scored for the task itself.
2. The default, the portfolio, the neighbours' best and the screened samples
   are scored by every member of the surrogate ensemble.
3. The k suggestions are chosen greedily to maximise the *expected best* of
   the set over plausible worlds: the ensemble members on the task, and the
   members on its nearest training tasks (from the world table). A near-copy
   of a chosen config scores alike in every world, adds nothing, and so is
   not chosen again.

A task far from every training task is flagged out of distribution and gets
only the robust candidates (default, portfolio, neighbours' best).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from ConfigSpace import ConfigurationSpace

from metamodel.encoding import ConfigEncoder
from metamodel.errors import FailedPreconditionError, InvalidRequestError
from metamodel.recommend._index import TaskIndex
from metamodel.spaces import config_hash, default_config, sample_configs
from metamodel.surrogate import Surrogate
from metamodel.types import ConfigValue, NeighbourTask, Suggestion, SuggestionOrigin

__all__ = ["MAX_K", "Recommendation", "Recommender", "RecommenderSettings"]

MAX_K = 100
"""The most suggestions one request may ask for."""


@dataclass(frozen=True)
class RecommenderSettings:
    """How many candidates of each kind to consider, and how the set is chosen.

    Attributes:
        n_samples: Sobol samples of the space, drawn once per model.
        n_screened: Samples kept per request after screening them on the
            nearest training tasks (0: no screening, every sample is scored
            for the task itself, about 5 times the cost of a request).
        n_refine_from: Perturb this many of the best candidates (0: none).
        n_refine_each: Perturbations of each.
        refine_scale: Standard deviation of a perturbation on the unit scale.
        n_neighbours: Nearest training tasks whose best configs are candidates.
        best_per_neighbour: How many of each one's best configs.
        world_neighbours: Nearest training tasks whose meta-features serve as
            extra "worlds" when screening and choosing the set (0: only the
            ensemble members, and no screening).
        self_weight: Weight of the task's own worlds; the neighbours share the rest.
        shortlist: Only this many of the best-predicted candidates (at least 4k)
            take part in choosing the set, which bounds the cost.
        seed: Seed of the samples and the perturbations.
    """

    n_samples: int = 256
    n_screened: int = 24
    screen_portfolio: bool = True
    n_refine_from: int = 0
    n_refine_each: int = 8
    refine_scale: float = 0.08
    n_neighbours: int = 5
    best_per_neighbour: int = 3
    world_neighbours: int = 10
    self_weight: float = 0.75
    shortlist: int = 64
    seed: int = 0


@dataclass(frozen=True)
class Recommendation:
    """The answer to one request."""

    suggestions: list[Suggestion]
    out_of_distribution: bool
    nearest_tasks: tuple[NeighbourTask, ...] = ()


@dataclass
class _Fixed:
    """Configs with their hashes and encodings."""

    configs: list[dict[str, ConfigValue]]
    hashes: list[str]
    encoded: np.ndarray

    @classmethod
    def of(cls, encoder: ConfigEncoder, configs: list[dict[str, ConfigValue]]) -> _Fixed:
        return cls(configs, [config_hash(c) for c in configs], encoder.encode(configs))


class _WorldTable:
    """Every config known when the model loads, once each, and its predictions per training task.

    ``groups`` name lists of configs (default, portfolio, each task's best,
    samples); :attr:`positions` maps each group to columns of the table. The
    ensemble's predictions for all columns on a training task are computed the
    first time that task is a world and kept (members x columns floats each),
    so the table costs one batch of predictions per training task in all.
    """

    def __init__(
        self,
        encoder: ConfigEncoder,
        surrogate: Surrogate,
        index: TaskIndex,
        groups: Mapping[str, list[dict[str, ConfigValue]]],
    ) -> None:
        self.surrogate = surrogate
        self.index = index
        configs: list[dict[str, ConfigValue]] = []
        column: dict[str, int] = {}
        self.positions: dict[str, np.ndarray] = {}
        for name, group in groups.items():
            columns = []
            for config in group:
                digest = config_hash(config)
                if digest not in column:
                    column[digest] = len(configs)
                    configs.append(config)
                columns.append(column[digest])
            self.positions[name] = np.array(columns, dtype=int)
        self.fixed = _Fixed.of(encoder, configs)
        self.column = column
        self._worlds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def world(self, task_id: str) -> np.ndarray:
        """Members x columns: the ensemble's predictions as if the task were ``task_id``."""
        return self._get(task_id)[0]

    def mean(self, task_id: str) -> np.ndarray:
        """The ensemble's mean prediction of each column as if the task were ``task_id``."""
        return self._get(task_id)[1]

    def _get(self, task_id: str) -> tuple[np.ndarray, np.ndarray]:
        found = self._worlds.get(task_id)
        if found is None:
            meta = self.index.training_vector(task_id)
            scores = _predict(self.surrogate, meta, self.fixed.encoded)
            with self._lock:  # two threads may both compute it: the same numbers, kept once
                found = self._worlds.setdefault(task_id, (scores, scores.mean(axis=0)))
        return found

    def warm(self) -> None:
        """Compute every training task's predictions now rather than on first use."""
        for task_id in self.index.task_ids:
            self.world(task_id)


class _Candidates:
    """One request's candidates: columns of the world table first, then configs outside it.

    Bookkeeping is on table columns (numpy masks), not on hashes, so a request
    pays for hashing only the configs it excludes and any refinements.
    """

    def __init__(self, table: _WorldTable, excluded: set[str]) -> None:
        self.table = table
        self.excluded = excluded
        self.taken = np.zeros(len(table.fixed.configs), dtype=bool)
        for digest in excluded:
            column = table.column.get(digest)
            if column is not None:
                self.taken[column] = True
        self.origins: list[SuggestionOrigin] = []
        self._columns: list[np.ndarray] = []
        self._extra: list[tuple[dict[str, ConfigValue], np.ndarray, int]] = []
        self._extra_hashes: set[str] = set()
        self._all_columns: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.origins)

    def fresh(self, columns: np.ndarray) -> np.ndarray:
        """The ``columns`` not taken yet, each once, in their first order."""
        fresh = columns[~self.taken[columns]]
        if len(fresh) > 1:
            _, first = np.unique(fresh, return_index=True)
            fresh = fresh[np.sort(first)]
        return np.asarray(fresh, dtype=int)

    def take(self, columns: np.ndarray, origin: SuggestionOrigin, limit: int | None = None) -> int:
        """Add the table configs at ``columns`` not yet taken, at most ``limit``; say how many."""
        fresh = self.fresh(columns)[:limit]
        self.taken[fresh] = True
        self._all_columns = None
        self._columns.append(fresh)
        self.origins.extend([origin] * len(fresh))
        return len(fresh)

    def add(self, extra: _Fixed, origin: SuggestionOrigin) -> None:
        """Add configs found during the request (after every :meth:`take`)."""
        for config, digest, row in zip(extra.configs, extra.hashes, extra.encoded, strict=True):
            column = self.table.column.get(digest, -1)
            if digest in self.excluded or digest in self._extra_hashes:
                continue
            if column >= 0 and self.taken[column]:
                continue
            self._extra_hashes.add(digest)
            self._all_columns = None
            self._extra.append((config, row, column))
            self.origins.append(origin)

    @property
    def columns(self) -> np.ndarray:
        """Each candidate's table column (-1: not in the table)."""
        if self._all_columns is None:
            taken = np.concatenate([*self._columns, np.zeros(0, dtype=int)]).astype(int)
            extra = np.array([c for _, _, c in self._extra], dtype=int)
            self._all_columns = np.concatenate([taken, extra])
        return self._all_columns

    def encoded(self, start: int = 0) -> np.ndarray:
        """The candidates' encodings from the ``start``-th on."""
        columns = self.columns
        width = self.table.fixed.encoded.shape[1]
        rows = [self.table.fixed.encoded[columns[: len(columns) - len(self._extra)]]]
        rows.append(np.array([r for _, r, _ in self._extra], dtype=float).reshape(-1, width))
        return np.vstack(rows)[start:]

    def config(self, i: int) -> dict[str, ConfigValue]:
        """The ``i``-th candidate config."""
        in_table = len(self.origins) - len(self._extra)
        if i >= in_table:
            return self._extra[i - in_table][0]
        return self.table.fixed.configs[int(self.columns[i])]


WorldScores = Callable[[list[NeighbourTask], np.ndarray], np.ndarray]
"""(worlds, shortlist indices) -> worlds x members x shortlist predictions."""


class Recommender:
    """Suggests configs of one search space for new tasks.

    Args:
        space: The search space.
        surrogate: The trained ensemble (columns: meta-features, then encoded config).
        index: The training tasks in meta-feature space.
        portfolio: Robust configs, best first (the greedy portfolio).
        task_best: Each training task's best configs, best first.
        settings: Candidate counts.
    """

    def __init__(
        self,
        space: ConfigurationSpace,
        surrogate: Surrogate,
        index: TaskIndex,
        portfolio: list[dict[str, ConfigValue]],
        task_best: Mapping[str, list[dict[str, ConfigValue]]],
        settings: RecommenderSettings | None = None,
    ) -> None:
        self.space = space
        self.encoder = ConfigEncoder(space)
        self.surrogate = surrogate
        self.index = index
        self.portfolio = portfolio
        self.task_best = task_best
        self.settings = settings or RecommenderSettings()
        expected = len(index.feature_names) + len(self.encoder.names)
        if len(surrogate.feature_names) != expected:
            raise FailedPreconditionError(
                f"the surrogate has {len(surrogate.feature_names)} inputs, but the task index "
                f"and the space give {expected}: they were not trained together"
            )
        per_task = self.settings.best_per_neighbour
        samples = sample_configs(
            space, self.settings.n_samples, method="sobol", seed=self.settings.seed
        )
        groups = {"default": [default_config(space)], "portfolio": portfolio, "samples": samples}
        groups.update({f"best:{t}": cs[:per_task] for t, cs in task_best.items()})
        self.table = _WorldTable(self.encoder, surrogate, index, groups)
        self._n_choices = np.array(self.encoder.n_choices, dtype=float)

    def warm(self) -> None:
        """Fill the world table now (a batch of predictions per training task), not on first use."""
        self.table.warm()

    def suggest(
        self,
        features: Mapping[str, float],
        k: int,
        *,
        max_fit_seconds: float | None = None,
        exclude: Iterable[Mapping[str, ConfigValue]] = (),
    ) -> Recommendation:
        """Return ``k`` configs for a task described by its meta-features.

        Raises:
            InvalidRequestError: ``k`` out of range, bad meta-features or constraint.
            FailedPreconditionError: No candidate satisfies the constraints.
        """
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidRequestError(f"k must be an integer in [1, {MAX_K}], got {k!r}")
        if max_fit_seconds is not None and not (
            max_fit_seconds > 0 and np.isfinite(max_fit_seconds)
        ):
            raise InvalidRequestError(
                f"max_fit_seconds must be a finite number > 0, got {max_fit_seconds!r}"
            )
        meta = self.index.vector(features)
        settings = self.settings
        close, out_of_distribution = self.index.neighbours(
            meta, max(settings.n_neighbours, settings.world_neighbours)
        )
        nearest = close[: settings.n_neighbours]
        candidates = self._candidates(close, out_of_distribution, exclude)
        predictions = self._score(meta, candidates.encoded())
        if not out_of_distribution and settings.n_refine_from > 0 and len(candidates):
            start = len(candidates)
            candidates.add(
                self._refine(candidates.encoded(), predictions), SuggestionOrigin.REFINEMENT
            )
            if len(candidates) > start:
                extra = self._score(meta, candidates.encoded(start))
                predictions = np.hstack([predictions, extra])
        if not len(candidates):
            raise FailedPreconditionError("every candidate config is in the exclude list")
        encoded = candidates.encoded()
        allowed = np.ones(len(candidates), dtype=bool)
        fit_seconds = None
        if max_fit_seconds is not None:
            fit_seconds = self.surrogate.predict_fit_seconds(self._rows(meta, encoded))
            allowed = ~(fit_seconds > max_fit_seconds)  # unknown (NaN) fit times are allowed
            if not allowed.any():
                raise FailedPreconditionError(
                    f"no candidate is predicted to fit within {max_fit_seconds:g} s; the "
                    f"fastest is predicted at {float(np.nanmin(fit_seconds)):.3g} s"
                )
        columns = candidates.columns

        def world_scores(worlds: list[NeighbourTask], shortlist: np.ndarray) -> np.ndarray:
            return self._world_scores(worlds, shortlist, columns, encoded)

        chosen = self._choose_set(close, predictions, allowed, k, world_scores)
        if fit_seconds is None:  # only the chosen ones' fit times are needed
            fit_seconds = np.full(len(candidates), np.nan)
            fit_seconds[chosen] = self.surrogate.predict_fit_seconds(
                self._rows(meta, encoded[chosen])
            )
        mean, spread = predictions.mean(axis=0), predictions.std(axis=0)
        suggestions = [
            Suggestion(
                config=candidates.config(i),
                predicted_score=float(mean[i]),
                uncertainty=float(spread[i]),
                predicted_fit_seconds=float(fit_seconds[i]),
                origin=candidates.origins[i],
                nearest_tasks=tuple(nearest),
            )
            for i in chosen
        ]
        return Recommendation(suggestions, out_of_distribution, tuple(nearest))

    def choose(
        self, features: Mapping[str, float], pool: list[dict[str, ConfigValue]], k: int
    ) -> list[int]:
        """Pick ``k`` of the given configs (pool mode: the candidates are fixed).

        Returns:
            Indices into ``pool``, in the order they would be tried.
        """
        if not pool:
            return []
        meta = self.index.vector(features)
        close, _ = self.index.neighbours(meta, self.settings.world_neighbours)
        encoded = self.encoder.encode(pool)
        predictions = self._score(meta, encoded)

        def world_scores(worlds: list[NeighbourTask], shortlist: np.ndarray) -> np.ndarray:
            return self._world_scores(worlds, shortlist, np.full(len(pool), -1), encoded)

        allowed = np.ones(len(pool), dtype=bool)
        return self._choose_set(close, predictions, allowed, k, world_scores)

    def _candidates(
        self,
        close: list[NeighbourTask],
        out_of_distribution: bool,
        exclude: Iterable[Mapping[str, ConfigValue]],
    ) -> _Candidates:
        """The table's configs this request considers, robust ones first."""
        settings, table = self.settings, self.table
        candidates = _Candidates(table, {config_hash(c) for c in exclude})
        samples, portfolio = table.positions["samples"], table.positions["portfolio"]
        worlds = close[: settings.world_neighbours]
        screening = (
            not out_of_distribution and bool(worlds) and 0 < settings.n_screened < len(samples)
        )
        screen_portfolio = screening and settings.screen_portfolio
        candidates.take(table.positions["default"], SuggestionOrigin.DEFAULT)
        if not screen_portfolio:
            candidates.take(portfolio, SuggestionOrigin.PORTFOLIO)
        for neighbour in close[: settings.n_neighbours]:
            best = table.positions.get(f"best:{neighbour.task_id}", np.zeros(0, dtype=int))
            candidates.take(best, SuggestionOrigin.NEIGHBOUR)
        if out_of_distribution:
            return candidates
        if not screening:
            candidates.take(samples, SuggestionOrigin.MODEL)
            return candidates
        # Screening: a config's mean prediction over the nearest tasks' worlds.
        pool = np.concatenate([portfolio, samples]) if screen_portfolio else samples
        screen = np.mean([table.mean(w.task_id)[pool] for w in worlds], axis=0)
        kept = candidates.fresh(pool[np.argsort(-screen, kind="stable")])[: settings.n_screened]
        in_portfolio = np.isin(kept, portfolio)
        candidates.take(kept[in_portfolio], SuggestionOrigin.PORTFOLIO)
        candidates.take(kept[~in_portfolio], SuggestionOrigin.MODEL)
        return candidates

    def _choose_set(
        self,
        close: list[NeighbourTask],
        predictions: np.ndarray,
        allowed: np.ndarray,
        k: int,
        world_scores: WorldScores,
    ) -> list[int]:
        """The k configs with the best expected best over the task's and its neighbours' worlds.

        The ensemble members alone are too alike to tell a varied set from k
        near-copies once the first few picks are made. Predicting the shortlist
        as if the task were each of its nearest training tasks adds plausible
        worlds that differ where it matters, much as a greedy portfolio covers
        kinds of task. The first pick is the best under the task's own worlds.
        """
        settings = self.settings
        worlds = close[: settings.world_neighbours]
        if not worlds or settings.self_weight >= 1.0 or k == 1:
            return _expected_best_set(predictions, allowed, k)
        mean = np.where(allowed, predictions.mean(axis=0), -np.inf)
        size = min(int(allowed.sum()), max(settings.shortlist, 4 * k))
        shortlist = np.argsort(-mean, kind="stable")[:size]
        own = predictions[:, shortlist]
        others = world_scores(worlds, shortlist)  # worlds x members x size
        stacked = np.vstack([own, others.reshape(-1, size)])
        members = own.shape[0]
        share = (1.0 - settings.self_weight) / len(worlds)
        weights = np.concatenate(
            [
                np.full(members, settings.self_weight / members),
                np.full(len(worlds) * members, share / members),
            ]
        )
        chosen = _expected_best_set(
            stacked, np.ones(size, dtype=bool), k, weights=weights, first=own.mean(axis=0)
        )
        return [int(shortlist[i]) for i in chosen]

    def _world_scores(
        self,
        worlds: list[NeighbourTask],
        shortlist: np.ndarray,
        columns: np.ndarray,
        encoded: np.ndarray,
    ) -> np.ndarray:
        """Worlds x members x shortlist: from the world table where it has the config."""
        members = len(self.surrogate.members)
        out = np.empty((len(worlds), members, len(shortlist)))
        at = columns[shortlist]
        known = at >= 0
        if known.any():
            for w, world in enumerate(worlds):
                out[w][:, known] = self.table.world(world.task_id)[:, at[known]]
        if not known.all():
            # Configs outside the table (refinements, a pool): every world's rows in one
            # matrix, one predict call per member.
            extra = encoded[shortlist[~known]]
            metas = np.array([self.index.training_vector(w.task_id) for w in worlds])
            rows = np.hstack(
                [np.repeat(metas, len(extra), axis=0), np.tile(extra, (len(worlds), 1))]
            )
            threads = self.surrogate.params.n_threads
            scored = np.stack(
                [m.predict(rows, num_threads=threads) for m in self.surrogate.members]
            )
            # (members, worlds * extra) -> (worlds, members, extra)
            out[:, :, ~known] = scored.reshape(members, len(worlds), len(extra)).transpose(1, 0, 2)
        return out

    def _rows(self, meta: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        return np.hstack([np.tile(meta, (len(encoded), 1)), encoded])

    def _score(self, meta: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        """Member × candidate predictions."""
        return _predict(self.surrogate, meta, encoded)

    def _refine(self, encoded: np.ndarray, predictions: np.ndarray) -> _Fixed:
        """Perturb the best candidates in encoded space; categoricals switch now and then."""
        settings = self.settings
        top = np.argsort(-predictions.mean(axis=0), kind="stable")[: settings.n_refine_from]
        rng = np.random.default_rng(settings.seed)
        categorical = np.zeros(encoded.shape[1], dtype=bool)
        categorical[list(self.encoder.categorical)] = True
        moved_all = []
        for vector in encoded[top]:
            jitter = rng.normal(0.0, settings.refine_scale, (settings.n_refine_each, len(vector)))
            moved = np.where(categorical, vector, np.clip(vector + jitter, 0.0, 1.0))
            flips = rng.random(moved.shape) < 0.1
            # A switched categorical takes any of its choices with equal chance.
            choices = np.floor(rng.random(moved.shape) * self._n_choices)
            moved = np.where(categorical & flips & np.isfinite(vector), choices, moved)
            moved_all.append(moved)
        if not moved_all:
            return _Fixed.of(self.encoder, [])
        # Decoding snaps to valid configs (and drops forbidden ones): encode them again.
        return _Fixed.of(self.encoder, self.encoder.decode(np.vstack(moved_all), drop_invalid=True))


def _predict(surrogate: Surrogate, meta: np.ndarray, encoded: np.ndarray) -> np.ndarray:
    """Member × config predictions of the ensemble for one task's meta-features."""
    if not len(encoded):
        return np.zeros((len(surrogate.members), 0))
    rows = np.hstack([np.tile(meta, (len(encoded), 1)), encoded])
    threads = surrogate.params.n_threads
    return np.vstack([m.predict(rows, num_threads=threads) for m in surrogate.members])


def _expected_best_set(
    predictions: np.ndarray,
    allowed: np.ndarray,
    k: int,
    *,
    weights: np.ndarray | None = None,
    first: np.ndarray | None = None,
) -> list[int]:
    """Greedily pick up to ``k`` allowed columns maximising the weighted mean of the row max.

    Args:
        predictions: Worlds (rows) x candidates (columns).
        allowed: Which candidates may be picked.
        k: How many to pick.
        weights: Weight of each world (default: equal); they sum to 1.
        first: Scores that choose the first pick alone (default: the weighted mean).
    """
    worlds = predictions.shape[0]
    w = np.full(worlds, 1.0 / worlds) if weights is None else weights
    mean = w @ predictions
    best = np.full(worlds, -np.inf)
    chosen: list[int] = []
    available = allowed.copy()
    for _ in range(min(k, int(available.sum()))):
        if not chosen and first is not None:
            score = np.where(available, first, -np.inf)
        else:
            gain = w @ np.maximum(best[:, None], predictions)
            # Ties (a candidate that adds nothing in any world) go to the better mean.
            score = np.where(available, gain + 1e-9 * mean, -np.inf)
        pick = int(np.argmax(score))
        chosen.append(pick)
        available[pick] = False
        best = np.maximum(best, predictions[:, pick])
    return chosen
