"""Top-k warm-start configs for a task: candidates, scoring, and a set that is good and varied.

Candidates: the library default, the greedy portfolio, the best configs of the
most similar training tasks, quasi-random (Sobol) samples of the space, and
local refinements around the best-scoring of those. Each is scored by every
member of the surrogate ensemble. The k suggestions are chosen greedily to
maximise the *expected best* of the set over the members, which treats each
member as a plausible world: a near-copy of a chosen config scores alike in
every world, adds nothing, and so is not chosen again. A task far from every
training task is flagged out of distribution and gets only the robust
candidates (default, portfolio, neighbours' best).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
        world_neighbours: Nearest training tasks whose meta-features serve as
            extra "worlds" when choosing the set (0: only the ensemble members).
        self_weight: Weight of the task's own worlds; the neighbours share the rest.
        shortlist: Only this many of the best-predicted candidates (at least 4k)
            are scored in the neighbours' worlds, which bounds the cost.
    """

    n_samples: int = 256
    n_refine_from: int = 8
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
    """Configs known before any request, with their hashes and encodings."""

    configs: list[dict[str, ConfigValue]]
    hashes: list[str]
    encoded: np.ndarray

    @classmethod
    def of(cls, encoder: ConfigEncoder, configs: list[dict[str, ConfigValue]]) -> _Fixed:
        return cls(configs, [config_hash(c) for c in configs], encoder.encode(configs))


@dataclass
class _Candidates:
    configs: list[dict[str, ConfigValue]] = field(default_factory=list)
    origins: list[SuggestionOrigin] = field(default_factory=list)
    hashes: set[str] = field(default_factory=set)
    rows: list[np.ndarray] = field(default_factory=list)

    def add(self, fixed: _Fixed, origin: SuggestionOrigin, limit: int | None = None) -> None:
        for config, digest, row in zip(
            fixed.configs[:limit], fixed.hashes[:limit], fixed.encoded[:limit], strict=True
        ):
            if digest not in self.hashes:
                self.hashes.add(digest)
                self.configs.append(config)
                self.origins.append(origin)
                self.rows.append(row)

    def encoded(self, start: int = 0) -> np.ndarray:
        return np.array(self.rows[start:], dtype=float).reshape(len(self.rows) - start, -1)


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
        # Fixed per model: sampled, hashed and encoded once, not per request.
        self._default = _Fixed.of(self.encoder, [default_config(space)])
        self._portfolio = _Fixed.of(self.encoder, portfolio)
        self._samples = _Fixed.of(
            self.encoder,
            sample_configs(space, self.settings.n_samples, method="sobol", seed=self.settings.seed),
        )
        self._task_best = {t: _Fixed.of(self.encoder, cs) for t, cs in task_best.items()}
        self._empty = _Fixed.of(self.encoder, [])
        self._n_choices = np.array(self.encoder.n_choices, dtype=float)
        expected = len(index.feature_names) + len(self.encoder.names)
        if len(surrogate.feature_names) != expected:
            raise FailedPreconditionError(
                f"the surrogate has {len(surrogate.feature_names)} inputs, but the task index "
                f"and the space give {expected}: they were not trained together"
            )

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
        excluded = {config_hash(c) for c in exclude}
        candidates = _Candidates(hashes=set(excluded))
        candidates.add(self._default, SuggestionOrigin.DEFAULT)
        candidates.add(self._portfolio, SuggestionOrigin.PORTFOLIO)
        for neighbour in nearest:
            best = self._task_best.get(neighbour.task_id, self._empty)
            candidates.add(best, SuggestionOrigin.NEIGHBOUR, settings.best_per_neighbour)
        if not out_of_distribution:
            candidates.add(self._samples, SuggestionOrigin.MODEL)
        predictions = self._score(meta, candidates.encoded())
        if not out_of_distribution and candidates.configs:
            start = len(candidates.configs)
            candidates.add(
                self._refine(candidates.encoded(), predictions), SuggestionOrigin.REFINEMENT
            )
            if len(candidates.configs) > start:
                extra = self._score(meta, candidates.encoded(start))
                predictions = np.hstack([predictions, extra])
        if not candidates.configs:
            raise FailedPreconditionError("every candidate config is in the exclude list")
        encoded = candidates.encoded()
        fit_seconds = self.surrogate.predict_fit_seconds(self._rows(meta, encoded))
        allowed = np.ones(len(candidates.configs), dtype=bool)
        if max_fit_seconds is not None:
            allowed = ~(fit_seconds > max_fit_seconds)  # unknown (NaN) fit times are allowed
            if not allowed.any():
                raise FailedPreconditionError(
                    f"no candidate is predicted to fit within {max_fit_seconds:g} s; the "
                    f"fastest is predicted at {float(np.nanmin(fit_seconds)):.3g} s"
                )
        chosen = self._choose_set(close, encoded, predictions, allowed, k)
        mean, spread = predictions.mean(axis=0), predictions.std(axis=0)
        suggestions = [
            Suggestion(
                config=candidates.configs[i],
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
        return self._choose_set(close, encoded, predictions, np.ones(len(pool), dtype=bool), k)

    def _choose_set(
        self,
        close: list[NeighbourTask],
        encoded: np.ndarray,
        predictions: np.ndarray,
        allowed: np.ndarray,
        k: int,
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
        # Every world's rows in one matrix: one predict call per member.
        metas = np.array([self.index.training_vector(w.task_id) for w in worlds])
        rows = np.hstack(
            [np.repeat(metas, size, axis=0), np.tile(encoded[shortlist], (len(worlds), 1))]
        )
        threads = self.surrogate.params.n_threads
        scored = np.stack([m.predict(rows, num_threads=threads) for m in self.surrogate.members])
        # (members, worlds * size) -> (worlds * members, size), world by world.
        others = scored.reshape(len(scored), len(worlds), size).transpose(1, 0, 2)
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

    def _rows(self, meta: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        return np.hstack([np.tile(meta, (len(encoded), 1)), encoded])

    def _score(self, meta: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        """Member × candidate predictions."""
        if not len(encoded):
            return np.zeros((len(self.surrogate.members), 0))
        rows = self._rows(meta, encoded)
        threads = self.surrogate.params.n_threads
        return np.vstack([m.predict(rows, num_threads=threads) for m in self.surrogate.members])

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
            return self._empty
        # Decoding snaps to valid configs (and drops forbidden ones): encode them again.
        return _Fixed.of(self.encoder, self.encoder.decode(np.vstack(moved_all), drop_invalid=True))


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
