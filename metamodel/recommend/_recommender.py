"""Top-k warm-start configs for a task: candidates, scoring, and a set that is good and varied.

Candidates: the library default, the greedy portfolio, the best configs of the
most similar training tasks, and quasi-random (Sobol) samples of the space;
optionally also local refinements around the best-scoring of those. All but
the refinements are known when the model loads, so they are encoded once, and
the ensemble's predictions for them *on each training task* are computed once
(on first use) and kept: the "world table". The trees are compiled
(:class:`~metamodel.surrogate.CompiledSurrogate`): each table config's
config-side leaf masks are kept, so a request computes its own task's masks once
and then scores a candidate with one AND per tree, the same numbers as
LightGBM's predict at a fraction of its cost. A request then costs the
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

:meth:`Recommender.suggest_many` answers several requests at once: the steps
above run as one set of numpy calls for all of them (each answer is the one the
request gets alone), which is how the server answers calls that arrive together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ConfigSpace import ConfigurationSpace

from metamodel.encoding import ConfigEncoder
from metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    WarmstartError,
    answer_or_raise,
)
from metamodel.kernels import greedy_picks
from metamodel.recommend._index import TaskIndex
from metamodel.spaces import config_hash, default_config, sample_configs
from metamodel.surrogate import CompiledSurrogate, Surrogate
from metamodel.types import ConfigValue, NeighbourTask, Suggestion, SuggestionOrigin

__all__ = ["MAX_K", "Recommendation", "Recommender", "RecommenderSettings", "SuggestQuery"]

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
    """Configs with their hashes, encodings and compiled-tree masks."""

    configs: list[dict[str, ConfigValue]]
    hashes: list[str]
    encoded: np.ndarray
    masks: np.ndarray

    @classmethod
    def of(
        cls,
        encoder: ConfigEncoder,
        compiled: CompiledSurrogate,
        configs: list[dict[str, ConfigValue]],
    ) -> _Fixed:
        encoded = encoder.encode(configs)
        return cls(configs, [config_hash(c) for c in configs], encoded, compiled.configs(encoded))


class _WorldTable:
    """Every config known when the model loads, once each, and its predictions per training task.

    ``groups`` name lists of configs (default, portfolio, each task's best,
    samples); :attr:`positions` maps each group to columns of the table.
    :attr:`scores` holds the ensemble's predictions for every column as if the
    task were each training task (tasks in index order x columns x members, so
    that one cell's members lie together, in one cache line), :attr:`means` their
    mean over the members. Both are computed when the
    table is made: with the compiled trees that is one AND per tree and cell
    (about 0.2 s for the shipped LightGBM bundle). The columns' config-side
    tree masks and the training tasks' task-side masks are kept too, so a
    config outside the table is scored on any training task cheaply.
    """

    def __init__(
        self,
        encoder: ConfigEncoder,
        compiled: CompiledSurrogate,
        index: TaskIndex,
        groups: Mapping[str, list[dict[str, ConfigValue]]],
    ) -> None:
        self.compiled = compiled
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
        self.fixed = _Fixed.of(encoder, compiled, configs)
        self.column = column
        self.task_masks = compiled.tasks(index.training_matrix())
        members, n_columns = compiled.n_members, len(configs)
        self.scores = np.empty((len(index.task_ids), n_columns, members))
        for row, task in enumerate(self.task_masks):
            self.scores[row] = compiled.scores(task, self.fixed.masks).T
        self.means = self.scores.mean(axis=2)
        empty = np.zeros(0, dtype=int)
        self.best_by_row = [self.positions.get(f"best:{t}", empty).tolist() for t in index.task_ids]
        portfolio, samples = self.positions["portfolio"], self.positions["samples"]
        self.in_portfolio = np.zeros(n_columns, dtype=bool)
        self.in_portfolio[portfolio] = True
        # What screening ranks: the portfolio and the samples, or the samples alone; each
        # column once (a sample may equal a portfolio config), in its first place.
        self.pools = {
            screened: _first_each(pool)
            for screened, pool in ((True, np.concatenate([portfolio, samples])), (False, samples))
        }
        self.pool_means = {screened: self.means[:, pool] for screened, pool in self.pools.items()}

    def world(self, task_id: str) -> np.ndarray:
        """Members x columns: the ensemble's predictions as if the task were ``task_id``."""
        return np.array(self.scores[self.index.row(task_id)].T)


class _Candidates:
    """One request's candidates: columns of the world table first, then configs outside it.

    Bookkeeping is on table columns (a byte per column and plain lists: a request
    handles a few dozen), not on hashes, so a request pays for hashing only the
    configs it excludes and any refinements.
    """

    def __init__(self, table: _WorldTable, excluded: set[str]) -> None:
        self.table = table
        self.excluded = excluded
        self.taken = bytearray(len(table.fixed.configs))
        self._taken = np.frombuffer(self.taken, dtype=np.uint8)  # the same bytes
        for digest in excluded:
            column = table.column.get(digest)
            if column is not None:
                self.taken[column] = 1
        self.origins: list[SuggestionOrigin] = []
        self._table_columns: list[int] = []
        self._extra: list[tuple[dict[str, ConfigValue], np.ndarray, np.ndarray, int]] = []
        self._extra_hashes: set[str] = set()

    def __len__(self) -> int:
        return len(self.origins)

    def take(self, columns: Iterable[int], origin: SuggestionOrigin) -> int:
        """Add the table configs at ``columns`` not yet taken, each once, in order; say how many."""
        taken, out = self.taken, self._table_columns
        before = len(out)
        for column in columns:
            if not taken[column]:
                taken[column] = 1
                out.append(column)
        added = len(out) - before
        self.origins.extend([origin] * added)
        return added

    def take_best(self, ranked: np.ndarray, limit: int) -> None:
        """Add the first ``limit`` of the ``ranked`` columns (distinct) not taken yet: those
        of the portfolio first (origin portfolio), then the rest (origin model), each in
        rank order."""
        fresh = ranked[self._taken[ranked] == 0][:limit]
        self._taken[fresh] = 1
        portfolio = self.table.in_portfolio[fresh]
        for columns, origin in (
            (fresh[portfolio], SuggestionOrigin.PORTFOLIO),
            (fresh[~portfolio], SuggestionOrigin.MODEL),
        ):
            self._table_columns.extend(columns.tolist())
            self.origins.extend([origin] * len(columns))

    def add(self, extra: _Fixed, origin: SuggestionOrigin) -> None:
        """Add configs found during the request (after every :meth:`take`)."""
        for config, digest, row, mask in zip(
            extra.configs, extra.hashes, extra.encoded, extra.masks, strict=True
        ):
            column = self.table.column.get(digest, -1)
            if digest in self.excluded or digest in self._extra_hashes:
                continue
            if column >= 0 and self.taken[column]:
                continue
            self._extra_hashes.add(digest)
            self._extra.append((config, row, mask, column))
            self.origins.append(origin)

    @property
    def columns(self) -> np.ndarray:
        """Each candidate's table column (-1: not in the table)."""
        return np.array(self._table_columns + [c for *_, c in self._extra], dtype=int)

    def encoded(self, start: int = 0) -> np.ndarray:
        """The candidates' encodings from the ``start``-th on."""
        table = self.table.fixed.encoded
        rows = [table[self._table_columns]]
        rows.append(np.array([r for _, r, _, _ in self._extra], dtype=float))
        return np.vstack([r.reshape(-1, table.shape[1]) for r in rows])[start:]

    def masks(self, start: int = 0) -> np.ndarray:
        """The candidates' config-side tree masks from the ``start``-th on."""
        table = self.table.fixed.masks
        if not self._extra:
            return table[self._table_columns[start:]]
        extra = np.array([m for _, _, m, _ in self._extra], dtype=table.dtype)
        return np.vstack([table[self._table_columns], extra.reshape(-1, table.shape[1])])[start:]

    def config(self, i: int) -> dict[str, ConfigValue]:
        """The ``i``-th candidate config."""
        in_table = len(self._table_columns)
        if i >= in_table:
            return self._extra[i - in_table][0]
        return self.table.fixed.configs[self._table_columns[i]]


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
        self.compiled = surrogate.compile(len(index.feature_names))
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
        self.table = _WorldTable(self.encoder, self.compiled, index, groups)
        self._n_choices = np.array(self.encoder.n_choices, dtype=float)
        # The world table times the weight of a world's member, for the usual number of
        # worlds: a request gathers its worlds' cells with the weighting already done.
        members = self.compiled.n_members
        self._world_weight = self._weights(members, self.settings.world_neighbours)[1]
        self._weighted_table = self.table.scores * self._world_weight
        # Load (or compile) the set choice's loop now, not on the first request.
        greedy_picks(np.zeros((1, 1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), 1, False)

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
        query = SuggestQuery(features, k, max_fit_seconds, tuple(exclude))
        return answer_or_raise(self.suggest_many([query])[0])

    def suggest_many(
        self, queries: Sequence[SuggestQuery]
    ) -> list[Recommendation | WarmstartError]:
        """Answer several requests in one pass: for each, what :meth:`suggest` returns or raises.

        The steps that cost a fixed number of numpy calls per request (task masks,
        nearest tasks, scoring the candidates, choosing the set) run once for all of
        them, so a server that gathers the requests arriving together pays those
        calls once per batch. Every answer is the one :meth:`suggest` gives alone; a
        bad request gets its error and does not affect the others.
        """
        answers: list[Recommendation | WarmstartError | None] = [None] * len(queries)
        valid: list[int] = []
        metas: list[np.ndarray] = []
        for position, query in enumerate(queries):
            try:
                _check_query(query)
                metas.append(self.index.vector(query.features))
            except WarmstartError as exc:
                answers[position] = exc
            else:
                valid.append(position)
        if valid:
            found = self._answer([queries[p] for p in valid], np.vstack(metas))
            for position, answer in zip(valid, found, strict=True):
                answers[position] = answer
        return _filled(answers)

    def _answer(
        self, queries: Sequence[SuggestQuery], metas: np.ndarray
    ) -> list[Recommendation | WarmstartError]:
        """Answers to valid queries whose raw meta-features are the rows of ``metas``."""
        settings = self.settings
        tasks = self.compiled.tasks(metas)
        rows, distances, out = self.index.nearest_many(
            metas, max(settings.n_neighbours, settings.world_neighbours)
        )
        answers: list[Recommendation | WarmstartError | None] = [None] * len(queries)
        candidates: list[_Candidates] = []
        live: list[int] = []
        for i, query in enumerate(queries):
            try:
                candidates.append(self._candidates(rows[i], bool(out[i]), query.exclude))
            except WarmstartError as exc:
                answers[i] = exc
            else:
                live.append(i)
        masks = [c.masks() for c in candidates]
        scored = self.compiled.scores_and_fit_seconds_many(tasks[live], masks)
        choices: list[_Choice] = []
        chosen_for: list[tuple[int, _Candidates]] = []
        for i, found, mask, (predictions, fit_seconds) in zip(
            live, candidates, masks, scored, strict=True
        ):
            if not out[i] and settings.n_refine_from > 0 and len(found):
                mask, predictions, fit_seconds = self._add_refinements(
                    found, tasks[i], mask, predictions, fit_seconds
                )
            try:
                choice = _Choice.of(
                    rows[i], predictions, fit_seconds, queries[i], found.columns, mask, len(found)
                )
            except WarmstartError as exc:
                answers[i] = exc
                continue
            choices.append(choice)
            chosen_for.append((i, found))
        picks = self._choose_sets(choices)
        n = settings.n_neighbours
        for (i, found), choice, chosen in zip(chosen_for, choices, picks, strict=True):
            nearest = tuple(self.index.tasks_at(rows[i][:n], distances[i][:n]))
            answers[i] = Recommendation(
                _suggestions(found, choice, chosen, nearest), bool(out[i]), nearest
            )
        return _filled(answers)

    def _add_refinements(
        self,
        found: _Candidates,
        task: np.ndarray,
        masks: np.ndarray,
        predictions: np.ndarray,
        fit_seconds: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Add perturbations of the best candidates to ``found``; the masks, predictions
        and fit seconds of all its candidates."""
        start = len(found)
        found.add(self._refine(found.encoded(), predictions), SuggestionOrigin.REFINEMENT)
        if len(found) == start:
            return masks, predictions, fit_seconds
        masks = found.masks()
        extra, extra_seconds = self.compiled.scores_and_fit_seconds(task, masks[start:])
        return (
            masks,
            np.hstack([predictions, extra]),
            np.concatenate([fit_seconds, extra_seconds]),
        )

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
        rows, _, _ = self.index.nearest(meta, self.settings.world_neighbours)
        masks = self.compiled.configs(self.encoder.encode(pool))
        predictions = self.compiled.scores(self.compiled.task(meta), masks)
        mean = np.add.reduce(predictions, axis=0) / predictions.shape[0]
        unknown = np.full(len(pool), np.nan)  # fit times play no part in the choice
        columns = np.full(len(pool), -1)
        choice = _Choice(rows, predictions, mean, unknown, None, k, columns, masks)
        return self._choose_sets([choice])[0]

    def _candidates(
        self,
        rows: np.ndarray,
        out_of_distribution: bool,
        exclude: Iterable[Mapping[str, ConfigValue]],
    ) -> _Candidates:
        """The table's configs this request considers, robust ones first.

        Args:
            rows: The nearest training tasks' index rows, nearest first.
            out_of_distribution: Whether the task is far from every training task.
            exclude: Configs not to suggest.
        """
        settings, table = self.settings, self.table
        candidates = _Candidates(table, {config_hash(c) for c in exclude})
        samples, portfolio = table.positions["samples"], table.positions["portfolio"]
        worlds = rows[: settings.world_neighbours]
        screening = (
            not out_of_distribution and len(worlds) > 0 and 0 < settings.n_screened < len(samples)
        )
        screen_portfolio = screening and settings.screen_portfolio
        candidates.take(table.positions["default"].tolist(), SuggestionOrigin.DEFAULT)
        if not screen_portfolio:
            candidates.take(portfolio.tolist(), SuggestionOrigin.PORTFOLIO)
        best = table.best_by_row
        neighbours_best = [c for row in rows[: settings.n_neighbours].tolist() for c in best[row]]
        candidates.take(neighbours_best, SuggestionOrigin.NEIGHBOUR)
        if out_of_distribution:
            return candidates
        if not screening:
            candidates.take(samples.tolist(), SuggestionOrigin.MODEL)
            return candidates
        # Screening: a config's mean prediction over the nearest tasks' worlds.
        pool = table.pools[screen_portfolio]
        screen = np.add.reduce(table.pool_means[screen_portfolio][worlds], axis=0) / len(worlds)
        candidates.take_best(pool[np.argsort(-screen, kind="stable")], settings.n_screened)
        return candidates

    def _choose_sets(self, choices: Sequence[_Choice]) -> list[list[int]]:
        """For each choice, the k configs with the best expected best over the task's and its
        neighbours' worlds (candidate indices, in the order they would be tried).

        The ensemble members alone are too alike to tell a varied set from k
        near-copies once the first few picks are made. Predicting the shortlist
        as if the task were each of its nearest training tasks adds plausible
        worlds that differ where it matters, much as a greedy portfolio covers
        kinds of task. The first pick is the best under the task's own worlds.
        """
        settings = self.settings
        plans: list[_Plan] = []
        for choice in choices:
            worlds = choice.rows[: settings.world_neighbours]
            predictions, allowed, k = choice.predictions, choice.allowed, choice.k
            members = predictions.shape[0]
            mean = choice.mean
            n_allowed = len(mean) if allowed is None else int(np.count_nonzero(allowed))
            if not len(worlds) or settings.self_weight >= 1.0 or k == 1:
                plans.append(_Plan(predictions * (1.0 / members), allowed, None, min(k, n_allowed)))
                continue
            if allowed is not None:
                mean = np.where(allowed, mean, -np.inf)
            size = min(n_allowed, max(settings.shortlist, 4 * k))
            shortlist = np.argsort(-mean, kind="stable")[:size]
            own_weight, world_weight = self._weights(members, len(worlds))
            world = self._world_scores(
                worlds, shortlist, choice.columns, choice.masks, world_weight
            )
            weighted = np.concatenate([predictions[:, shortlist] * own_weight, world])
            plans.append(_Plan(weighted, None, mean[shortlist], min(k, size), shortlist))
        return [
            chosen if plan.shortlist is None else plan.shortlist[chosen].tolist()
            for plan, chosen in zip(plans, _expected_best_sets(plans), strict=True)
        ]

    def _weights(self, members: int, worlds: int) -> tuple[float, float]:
        """The weight of each of the task's own members, and of each member of each world."""
        own = self.settings.self_weight
        share = (1.0 - own) / max(worlds, 1)
        return own / members, share / members

    def _world_scores(
        self,
        worlds: np.ndarray,
        shortlist: np.ndarray,
        columns: np.ndarray,
        masks: np.ndarray,
        weight: float,
    ) -> np.ndarray:
        """(worlds x members) x shortlist: predictions times ``weight``, from the world table
        where it has the config.

        Args:
            worlds: Index rows of the training tasks taken as worlds.
            shortlist: Candidate indices.
            columns: Each candidate's table column (-1: outside the table).
            masks: Each candidate's config-side tree masks.
            weight: The weight of each world's members.
        """
        at = columns[shortlist]
        known = at >= 0
        if weight == self._world_weight and known.all():  # the usual case: one gather
            cells = self._weighted_table[worlds[:, None], at]  # worlds x shortlist x members
            return np.reshape(cells.transpose(0, 2, 1), (-1, len(at)))
        scores = self.table.scores  # tasks x columns x members
        out = np.empty((len(worlds), self.compiled.n_members, len(shortlist)))
        out[:, :, known] = scores[worlds[:, None], at[known]].transpose(0, 2, 1)
        extra = masks[shortlist[~known]]  # refinements, a pool
        for w, row in enumerate(worlds.tolist()):
            out[w][:, ~known] = self.compiled.scores(self.table.task_masks[row], extra)
        out *= weight
        return out.reshape(-1, len(shortlist))

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
        found = self.encoder.decode(np.vstack(moved_all), drop_invalid=True) if moved_all else []
        # Decoding snaps to valid configs (and drops forbidden ones): encode them again.
        return _Fixed.of(self.encoder, self.compiled, found)


def _first_each(columns: np.ndarray) -> np.ndarray:
    """The distinct ``columns``, each where it first appears."""
    _, first = np.unique(columns, return_index=True)
    return columns[np.sort(first)]


@dataclass(frozen=True)
class SuggestQuery:
    """One request of :meth:`Recommender.suggest_many`: what :meth:`Recommender.suggest` takes."""

    features: Mapping[str, float]
    k: int
    max_fit_seconds: float | None = None
    exclude: Sequence[Mapping[str, ConfigValue]] = ()


def _check_query(query: SuggestQuery) -> None:
    k, limit = query.k, query.max_fit_seconds
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidRequestError(f"k must be an integer in [1, {MAX_K}], got {k!r}")
    if limit is not None and not (limit > 0 and np.isfinite(limit)):
        raise InvalidRequestError(f"max_fit_seconds must be a finite number > 0, got {limit!r}")


@dataclass(frozen=True)
class _Choice:
    """One request's scored candidates, from which its set is chosen."""

    rows: np.ndarray  # the nearest training tasks' index rows, nearest first
    predictions: np.ndarray  # members x candidates, on the task itself
    mean: np.ndarray  # the members' mean per candidate
    fit_seconds: np.ndarray  # predicted (NaN: unknown)
    allowed: np.ndarray | None  # which candidates may be picked (None: all)
    k: int
    columns: np.ndarray  # each candidate's world-table column (-1: outside it)
    masks: np.ndarray  # each candidate's config-side tree masks

    @classmethod
    def of(
        cls,
        rows: np.ndarray,
        predictions: np.ndarray,
        fit_seconds: np.ndarray,
        query: SuggestQuery,
        columns: np.ndarray,
        masks: np.ndarray,
        n_candidates: int,
    ) -> _Choice:
        """A request's choice, once its fit-time limit is applied.

        Raises:
            FailedPreconditionError: No candidate is left, or none fits the limit.
        """
        if not n_candidates:
            raise FailedPreconditionError("every candidate config is in the exclude list")
        members = predictions.shape[0]
        mean = np.add.reduce(predictions, axis=0) / members  # = predictions.mean(axis=0)
        allowed = None
        limit = query.max_fit_seconds
        if limit is not None:
            allowed = ~(fit_seconds > limit)  # unknown (NaN) fit times are allowed
            if not allowed.any():
                raise FailedPreconditionError(
                    f"no candidate is predicted to fit within {limit:g} s; the "
                    f"fastest is predicted at {float(np.nanmin(fit_seconds)):.3g} s"
                )
        return cls(rows, predictions, mean, fit_seconds, allowed, query.k, columns, masks)


@dataclass(frozen=True)
class _Plan:
    """A greedy choice to make: see :func:`_expected_best_sets`."""

    weighted: np.ndarray
    allowed: np.ndarray | None
    first: np.ndarray | None
    picks: int
    shortlist: np.ndarray | None = None  # candidate index of each column (None: the same)


def _suggestions(
    candidates: _Candidates, choice: _Choice, chosen: list[int], nearest: tuple[NeighbourTask, ...]
) -> list[Suggestion]:
    """The chosen candidates with their predictions."""
    predictions, mean = choice.predictions, choice.mean
    members = predictions.shape[0]
    picked = predictions[:, chosen]
    # The members' standard deviation, as predictions.std(axis=0) computes it.
    deviation = picked - mean[chosen]
    spread = np.sqrt(np.add.reduce(np.multiply(deviation, deviation), axis=0) / members)
    origins = candidates.origins
    return [
        Suggestion(
            config=candidates.config(i),
            predicted_score=score,
            uncertainty=uncertainty,
            predicted_fit_seconds=seconds,
            origin=origins[i],
            nearest_tasks=nearest,
        )
        for i, score, uncertainty, seconds in zip(
            chosen,
            mean[chosen].tolist(),
            spread.tolist(),
            choice.fit_seconds[chosen].tolist(),
            strict=True,
        )
    ]


def _filled(
    answers: list[Recommendation | WarmstartError | None],
) -> list[Recommendation | WarmstartError]:
    """The answers, every one of which has been given."""
    done = [a for a in answers if a is not None]
    if len(done) != len(answers):
        raise RuntimeError("a request was left without an answer")  # a bug, not bad input
    return done


def _expected_best_sets(plans: Sequence[_Plan]) -> list[list[int]]:
    """Greedily pick, for each plan, up to ``picks`` allowed columns maximising the sum of
    the row max; plans of the same shape are picked together, in one set of numpy calls.

    A plan's ``weighted`` holds worlds (rows) x candidates (columns), each row already
    times its world's weight (the weights are >= 0 and sum to 1); ``first``, when given,
    chooses the first pick alone (default: the weighted sum).
    """
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, plan in enumerate(plans):
        groups.setdefault((plan.weighted.shape[0], plan.first is None), []).append(i)
    chosen: list[list[int]] = [[] for _ in plans]
    for members in groups.values():
        group = [plans[i] for i in members]
        for i, picks in zip(members, _expected_best_group(group), strict=True):
            chosen[i] = picks
    return chosen


def _expected_best_group(plans: Sequence[_Plan]) -> list[list[int]]:
    """:func:`_expected_best_sets` of plans of as many rows, with ``first`` for all or none."""
    n_plans, worlds = len(plans), plans[0].weighted.shape[0]
    width = max(p.weighted.shape[1] for p in plans)
    has_first = plans[0].first is not None
    if n_plans == 1:
        weighted = plans[0].weighted[None]
        first = plans[0].first[None] if plans[0].first is not None else np.empty((1, width))
    else:
        # Plans side by side, padded with -inf: a padded column adds nothing to any world
        # (max(b, -inf) is b) and is never picked (its sum, and so its score, is -inf).
        weighted = np.full((n_plans, worlds, width), -np.inf)
        first = np.full((n_plans, width), -np.inf)
        for b, plan in enumerate(plans):
            weighted[b, :, : plan.weighted.shape[1]] = plan.weighted
            if plan.first is not None:
                first[b, : len(plan.first)] = plan.first
    # Sums world by world (not a BLAS product, whose rounding depends on the memory
    # layout), so configs predicted alike in every world tie exactly and the first one
    # wins, on any machine. Weights are >= 0, so w * max(b, p) is max(w * b, w * p)
    # exactly: the weighting is done once, not per pick. Added to every gain: ties
    # (nothing added in any world) go to the better mean, and what may not be picked
    # (or is picked) gets -inf.
    bias = np.add.reduce(weighted, axis=1) * 1e-9
    for b, plan in enumerate(plans):
        if plan.allowed is not None:
            bias[b, : len(plan.allowed)][~plan.allowed] = -np.inf
            if has_first:
                first[b, : len(plan.allowed)][~plan.allowed] = -np.inf
    columns = greedy_picks(weighted, first, bias, max(p.picks for p in plans), has_first).tolist()
    return [row[: plan.picks] for row, plan in zip(columns, plans, strict=True)]
