"""The recommender: top-k warm-start configs for a task, good and varied.

A request runs three steps, each in its own module:

1. Candidates (:mod:`._candidates`): the library default, the greedy portfolio,
   the nearest training tasks' best configs and the Sobol samples screened on
   those tasks' worlds, read from the world table (:mod:`._worlds`), which holds
   every config known when the model loads and the ensemble's predictions for it
   on each training task; optionally refinements of the best.
2. Scoring: every member of the surrogate ensemble predicts each candidate's
   score and fit time on the task itself (compiled trees: the task's own masks
   once, then one AND per tree and candidate).
3. The set (:mod:`._set_choice`): k of them chosen for the set's expected best
   over plausible worlds, within the request's fit-time limit.

A task far from every training task is flagged out of distribution and gets
only the robust candidates (default, portfolio, neighbours' best).

:meth:`Recommender.suggest_many` answers several requests at once: the steps
above run as one set of numpy calls for all of them (each answer is the one the
request gets alone), which is how the server answers calls that arrive together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from ConfigSpace import ConfigurationSpace

from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    WarmstartError,
    answer_or_raise,
)
from warmstart.metamodel.probes import ProbeReader, split_rule
from warmstart.metamodel.recommend._candidates import (
    Candidates,
    gather_candidates,
    refinements,
    space_samples,
)
from warmstart.metamodel.recommend._index import TaskIndex
from warmstart.metamodel.recommend._kernel import every_world, kernel_picks
from warmstart.metamodel.recommend._observed import (
    ObservedWorlds,
    improvement_picks,
    observed_worlds,
    sampled_picks,
    stalled,
)
from warmstart.metamodel.recommend._request import (
    MAX_K,
    Recommendation,
    SuggestQuery,
    check_query,
)
from warmstart.metamodel.recommend._residual import INACTIVE, residual_picks
from warmstart.metamodel.recommend._set_choice import (
    LOCAL_RULES,
    NEAREST_RULES,
    PORTFOLIO_RULES,
    ScoredCandidates,
    SetChoice,
    rules_by_k,
)
from warmstart.metamodel.recommend._settings import RecommenderSettings
from warmstart.metamodel.recommend._worlds import EncodedConfigs, WorldTable
from warmstart.metamodel.spaces import (
    config_hash,
    default_config,
    sample_configs,
    validate_config,
)
from warmstart.metamodel.surrogate import SIZE_INPUT, Surrogate, log_rows, size_source
from warmstart.metamodel.types import (
    ConfigValue,
    NeighbourTask,
    Observation,
    Suggestion,
    SuggestionOrigin,
)

__all__ = ["Recommender"]


class Recommender:
    """Suggests configs of one search space for new tasks.

    Args:
        space: The search space.
        surrogate: The trained ensemble (columns: meta-features, then encoded config).
        index: The training tasks in meta-feature space.
        portfolio: Robust configs, best first (the greedy portfolio).
        task_best: Each training task's best configs, best first.
        settings: Candidate counts and the set choice's weights (fixed once built).
        set_rule: Which set rule chooses the k (:data:`~warmstart.metamodel.recommend.SET_RULES`),
            one for every request or one per smallest k (``{1: ..., 3: ...}``: a request
            for k configs follows the rule of the largest key <= k); the portfolio
            rules take every portfolio config as a candidate. A rule named
            ``<rule>+probes`` reads the request's probe scores; the rule alone
            leaves them out (:mod:`warmstart.metamodel.probes`).
        full_size_rules: ``(rows, rules)``: requests for more than ``rows`` training rows
            (stated, else the table's) follow these rules instead, per smallest k as
            ``set_rule``; they read no probes. None: ``set_rule`` serves every size.
        probes: The config hashes of the model's probes, in input order (empty: a
            model that reads none).

    Attributes:
        table: The world table: configs known when the model loads, scored per training task.
        set_choice: Chooses each request's set from its scored candidates
            (:class:`~warmstart.metamodel.recommend._set_choice.SetChoice`; an
            :class:`~warmstart.metamodel.recommend._set_choice.ExpectedBestSets`
            over :attr:`table`).
        full_size_choice: ``(rows, set choice)`` for requests above ``rows``, or None.

    Raises:
        FailedPreconditionError: The surrogate, index and space were not trained together.
    """

    def __init__(
        self,
        space: ConfigurationSpace,
        surrogate: Surrogate,
        index: TaskIndex,
        portfolio: list[dict[str, ConfigValue]],
        task_best: Mapping[str, list[dict[str, ConfigValue]]],
        settings: RecommenderSettings | None = None,
        set_rule: str | Mapping[int, str] = "expected_best",
        full_size_rules: tuple[int, Mapping[int, str]] | None = None,
        task_sizes: Mapping[str, float] | None = None,
        task_scores: Mapping[str, Mapping[str, float]] | None = None,
        probes: Sequence[str] = (),
    ) -> None:
        self.space = space
        self.encoder = ConfigEncoder(space)
        # A categorical's choice index divided by this lies in [0, 1], as numbers do.
        self._widths = np.maximum(np.array(self.encoder.n_choices, dtype=float) - 1.0, 1.0)
        self.surrogate = surrogate
        n_index = len(index.feature_names)
        # The surrogate takes the training size after the meta-features where its feature
        # set gives the table's rows (metamodel.surrogate._size).
        self._size_from = size_source(index.feature_names)
        sized = (
            self._size_from is not None
            and len(surrogate.feature_names) > n_index
            and surrogate.feature_names[n_index] == SIZE_INPUT
        )
        if not sized:
            self._size_from = None
        self.compiled = surrogate.compile(n_index + int(sized))
        self.index = index
        self.portfolio = portfolio
        self.task_best = task_best
        settings = settings or RecommenderSettings()
        served = {1: set_rule} if isinstance(set_rule, str) else dict(set_rule)
        rules = {k: split_rule(rule)[0] for k, rule in served.items()}
        sized_rules = (
            {}
            if full_size_rules is None
            else {k: split_rule(r)[0] for k, r in full_size_rules[1].items()}
        )
        every_rule = set(rules.values()) | set(sized_rules.values())
        self.probe_reading: dict[int, bool] = {k: split_rule(r)[1] for k, r in served.items()}
        """Whether requests of k >= each key (the largest such) read probe scores."""
        if any(self.probe_reading.values()) and not probes:
            raise FailedPreconditionError(
                "a set rule reads probes (+probes), but the model has no probes"
            )
        self.probes = ProbeReader(probes)
        if settings.screen_portfolio and every_rule & set(PORTFOLIO_RULES):
            settings = replace(settings, screen_portfolio=False)
        self._settings = settings
        # The nearest_best rule takes the best config of each of its world neighbours.
        self._nearest_rows = settings.world_neighbours if every_rule & set(NEAREST_RULES) else 0
        # The local portfolio rules choose among the best configs of their neighbours.
        if every_rule & set(LOCAL_RULES):
            self._nearest_rows = max(self._nearest_rows, settings.local_neighbours)
        self.set_rule = set_rule
        expected = n_index + int(sized) + len(self.encoder.names)
        if len(surrogate.feature_names) != expected:
            raise FailedPreconditionError(
                f"the surrogate has {len(surrogate.feature_names)} inputs, but the task index "
                f"and the space give {expected}: they were not trained together"
            )
        per_task = settings.best_per_neighbour
        samples = sample_configs(space, settings.n_samples, method="sobol", seed=settings.seed)
        groups = {"default": [default_config(space)], "portfolio": portfolio, "samples": samples}
        groups.update({f"best:{t}": cs[:per_task] for t, cs in task_best.items()})
        sizes = task_sizes or {}
        training = index.training_matrix()
        known = [sizes.get(t, np.nan) for t in index.task_ids]
        self.table = WorldTable(
            self.encoder, self.compiled, index, groups, self._task_inputs(training, known)
        )
        if task_scores:
            self.table.measure(task_scores)
        self.set_choice: SetChoice = rules_by_k(rules, self.table, settings)
        self.full_size_choice: tuple[int, SetChoice] | None = (
            None
            if full_size_rules is None or self._size_from is None
            else (int(full_size_rules[0]), rules_by_k(sized_rules, self.table, settings))
        )

    def reads_probes(self, k: int) -> bool:
        """Whether a request for ``k`` configs reads its probe scores."""
        keys = [key for key in self.probe_reading if key <= k]
        return bool(keys) and self.probe_reading[max(keys)]

    def model_features(self, features: Mapping[str, float], k: int | None) -> dict[str, float]:
        """A request's meta-features as the model reads them at ``k``: raw probe scores
        turned into probe inputs where it reads them (always where ``k`` is None), left
        out where it does not."""
        return self.probes.inputs(features, read=k is None or self.reads_probes(k))

    def _task_inputs(
        self, metas: np.ndarray, log_sizes: Sequence[float | None] | None = None
    ) -> np.ndarray:
        """The surrogate's task-side inputs: the raw meta-features, then the log training
        size where the surrogate takes it (given, else the table's rows)."""
        if self._size_from is None:
            return metas
        table_rows = metas[:, self._size_from]
        given = np.array(
            [np.nan if v is None else v for v in (log_sizes or [None] * len(metas))], dtype=float
        )
        return np.hstack([metas, np.where(np.isnan(given), table_rows, given)[:, None]])

    def task_input(
        self, features: Mapping[str, float], train_rows: int | None = None
    ) -> np.ndarray:
        """The surrogate's task-side input vector for a task (see :meth:`suggest`)."""
        sizes = [None if train_rows is None else log_rows(np.nan, train_rows=train_rows)]
        meta = self.index.vector(self.model_features(features, None))
        inputs = self._task_inputs(meta[None], sizes)
        return np.asarray(inputs[0], dtype=float)

    def predict(
        self,
        features: Mapping[str, float],
        configs: Sequence[Mapping[str, ConfigValue]],
        train_rows: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's mean and spread of each config's normalised score on a task
        (LightGBM's own predict, not the compiled trees; for reports, not for serving)."""
        task = self.task_input(features, train_rows)
        encoded = self.encoder.encode([dict(c) for c in configs])
        return self.surrogate.predict(np.hstack([np.tile(task, (len(encoded), 1)), encoded]))

    @property
    def settings(self) -> RecommenderSettings:
        """Candidate counts and the set choice's weights."""
        return self._settings

    def suggest(
        self,
        features: Mapping[str, float],
        k: int,
        *,
        max_fit_seconds: float | None = None,
        exclude: Iterable[Mapping[str, ConfigValue]] = (),
        train_rows: int | None = None,
        observations: Iterable[Observation] = (),
    ) -> Recommendation:
        """Return ``k`` configs for a task described by its meta-features.

        ``train_rows`` is how many rows the configs will be trained on (default: the
        table's rows, from the meta-features); it matters where the model was trained
        on records of several sizes. A request that states it scores every Sobol
        sample for the task itself rather than screening them on the nearest tasks
        (whose worlds are predicted at their own sizes): about 5 times the cost.

        ``observations`` are configs already evaluated on this task with their
        scores: none of them is suggested again, and the answer takes them into
        account (:attr:`Recommendation.observations` says how many it used). With
        none the answer is the zero-shot one.

        Raises:
            InvalidRequestError: ``k`` out of range, bad meta-features, constraint or
                observation.
            FailedPreconditionError: No candidate satisfies the constraints.
        """
        query = SuggestQuery(
            features, k, max_fit_seconds, tuple(exclude), train_rows, tuple(observations)
        )
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
                check_query(query)
                metas.append(self.index.vector(self.model_features(query.features, query.k)))
            except WarmstartError as exc:
                answers[position] = exc
            else:
                valid.append(position)
        zero_shot: list[int] = []
        zero_metas: list[np.ndarray] = []
        tried: dict[int, set[str]] = {}
        for position, meta in zip(valid, metas, strict=True):
            query = queries[position]
            try:
                seen = self._validated(query.observations)
                observed = (
                    self._answer_observed(query, meta, seen)
                    if len(seen) >= self.settings.observed_from
                    else None
                )
            except WarmstartError as exc:
                answers[position] = exc
                continue
            if observed is None:  # too few observations, or they cannot tell worlds apart
                tried[position] = {config_hash(c) for c in seen}
                zero_shot.append(position)
                zero_metas.append(meta)
            else:
                answers[position] = observed
        if zero_shot:
            horizon = self.settings.observed_from
            asked = [_continued(queries[p], horizon) for p in zero_shot]
            found = self._answer(asked, np.vstack(zero_metas))
            for position, query, answer in zip(zero_shot, asked, found, strict=True):
                answers[position] = _continuation(queries[position], query, answer, tried[position])
        return _filled(answers)

    def _answer(
        self, queries: Sequence[SuggestQuery], metas: np.ndarray
    ) -> list[Recommendation | WarmstartError]:
        """Answers to valid queries whose raw meta-features are the rows of ``metas``."""
        settings = self.settings
        sizes = [
            None if q.train_rows is None else log_rows(np.nan, train_rows=q.train_rows)
            for q in queries
        ]
        tasks = self.compiled.tasks(self._task_inputs(metas, sizes))
        wide, distances, out = self.index.nearest_many(
            metas,
            max(settings.n_neighbours, settings.world_neighbours, self._near_count()),
        )
        rows = wide[:, : max(settings.n_neighbours, settings.world_neighbours)]
        answers: list[Recommendation | WarmstartError | None] = [None] * len(queries)
        candidates: list[Candidates] = []
        live: list[int] = []
        for i, query in enumerate(queries):
            try:
                candidates.append(
                    gather_candidates(
                        self.table,
                        settings,
                        wide[i],
                        bool(out[i]),
                        query.exclude,
                        screen=query.train_rows is None,
                        nearest_rows=self._nearest_rows,
                    )
                )
            except WarmstartError as exc:
                answers[i] = exc
            else:
                live.append(i)
        masks = [c.masks() for c in candidates]
        scored = self.compiled.scores_and_fit_seconds_many(tasks[live], masks)
        choices: list[ScoredCandidates] = []
        chosen_for: list[tuple[int, Candidates]] = []
        for i, found, mask, (predictions, fit_seconds) in zip(
            live, candidates, masks, scored, strict=True
        ):
            if not out[i] and settings.n_refine_from > 0 and len(found):
                mask, predictions, fit_seconds = self._add_refinements(
                    found, tasks[i], mask, predictions, fit_seconds
                )
            query = queries[i]
            try:
                choice = ScoredCandidates.of(
                    rows[i],
                    predictions,
                    fit_seconds,
                    query.k,
                    query.max_fit_seconds,
                    found.columns,
                    mask,
                    len(found),
                    wide[i],
                    self.surrogate.fit_time_margin,
                )
            except WarmstartError as exc:
                answers[i] = exc
                continue
            choices.append(choice)
            chosen_for.append((i, found))
        picks = self._chosen_sets(
            choices,
            [self._at_full_size(queries[i].train_rows, metas[i]) for i, _ in chosen_for],
        )
        n = settings.n_neighbours
        for (i, found), choice, chosen in zip(chosen_for, choices, picks, strict=True):
            nearest = tuple(self.index.tasks_at(rows[i][:n], distances[i][:n]))
            answers[i] = Recommendation(
                _suggestions(found, choice, chosen, nearest),
                bool(out[i]),
                nearest,
                observations=len(queries[i].observations),
            )
        return _filled(answers)

    def _observed(
        self,
        configs: list[dict[str, ConfigValue]],
        observations: Sequence[Observation],
        task: np.ndarray,
    ) -> tuple[EncodedConfigs, ObservedWorlds | None]:
        """The observed configs (``configs``: the observations' own, checked by
        :meth:`_validated`) encoded, and the worlds they make credible."""
        seen = EncodedConfigs.of(self.encoder, self.compiled, configs)
        settings = self.settings
        worlds = observed_worlds(
            self.compiled,
            self.table,
            task,
            seen.masks,
            [o.score for o in observations],
            sharpness=settings.observed_sharpness,
            keep=settings.observed_worlds,
            encoded=seen.encoded,
            own_from=settings.observed_own_from,
            seed=settings.seed,
        )
        return seen, worlds

    def _validated(self, observations: Sequence[Observation]) -> list[dict[str, ConfigValue]]:
        """The observed configs, each checked against the space.

        Raises:
            InvalidRequestError: Naming the first observation whose config is not valid.
        """
        configs = []
        for i, observation in enumerate(observations):
            try:
                configs.append(validate_config(self.space, observation.config))
            except InvalidRequestError as exc:
                raise InvalidRequestError(f"observation {i}: {exc}") from exc
        return configs

    def _answer_observed(
        self, query: SuggestQuery, meta: np.ndarray, configs: list[dict[str, ConfigValue]]
    ) -> Recommendation | None:
        """The answer to a request with observations, ranked in the worlds they make
        credible; None where they cannot tell the worlds apart (answer it zero-shot)."""
        settings = self.settings
        size = None if query.train_rows is None else log_rows(np.nan, train_rows=query.train_rows)
        task = self.compiled.task(self._task_inputs(meta[None], [size])[0])
        seen, worlds = self._observed(configs, query.observations, task)
        if worlds is None:
            return None
        rows, distances, out = self.index.nearest(meta, settings.n_neighbours)
        excluded = {config_hash(c) for c in query.exclude} | set(seen.hashes)
        found = Candidates(self.table, excluded)
        positions = self.table.positions
        found.take(positions["default"].tolist(), SuggestionOrigin.DEFAULT)
        found.take(positions["portfolio"].tolist(), SuggestionOrigin.PORTFOLIO)
        for name, columns in positions.items():
            if name.startswith("best:"):
                found.take(columns.tolist(), SuggestionOrigin.NEIGHBOUR)
        found.take(positions["samples"].tolist(), SuggestionOrigin.MODEL)
        # New draws for each number of observations: a loop keeps exploring.
        seed = settings.seed + len(seen.configs)
        if settings.observed_refine_from > 0:
            around = replace(
                settings,
                n_refine_from=settings.observed_refine_from,
                n_refine_each=settings.observed_refine_each,
                refine_scale=settings.observed_refine_scale,
                seed=seed,
            )
            scores = np.array([[o.score for o in query.observations]], dtype=float)
            found.add(
                refinements(self.encoder, self.compiled, around, seen.encoded, scores),
                SuggestionOrigin.REFINEMENT,
            )
        if settings.observed_samples > 0:
            drawn = space_samples(self.encoder, self.compiled, settings.observed_samples, seed)
            found.add(drawn, SuggestionOrigin.MODEL)
        masks, encoded = found.masks(), found.encoded()
        per_world, ranked = worlds.scores(self.compiled, self.table, task, masks, encoded)
        fit_seconds = self.compiled.fit_seconds(task, masks)  # the scores are per_world's
        choice = ScoredCandidates.of(
            rows, per_world, fit_seconds, query.k, query.max_fit_seconds,
            found.columns, masks, len(found), margin=self.surrogate.fit_time_margin,
        )  # fmt: skip
        chosen = self._observed_picks(
            worlds, task, seen, query.observations, (per_world, ranked, encoded, masks), query.k,
            choice.allowed,
        )  # fmt: skip
        spread = np.sqrt(worlds.weights @ (per_world[:, chosen] - ranked[chosen]) ** 2)
        nearest = tuple(self.index.tasks_at(rows, distances))
        origins = found.origins
        suggestions = [
            Suggestion(
                config=found.config(i),
                predicted_score=float(ranked[i]),
                uncertainty=float(deviation),
                predicted_fit_seconds=float(fit_seconds[i]),
                origin=origins[i],
                nearest_tasks=nearest,
            )
            for i, deviation in zip(chosen, spread.tolist(), strict=True)
        ]
        return Recommendation(suggestions, bool(out), nearest, observations=len(seen.configs))

    def _observed_picks(
        self,
        worlds: ObservedWorlds,
        task: np.ndarray,
        seen: EncodedConfigs,
        observations: Sequence[Observation],
        candidates: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        k: int,
        allowed: np.ndarray | None,
    ) -> list[int]:
        """The k candidates a request with observations gets, by ``observed_choice``.

        Args:
            worlds: The credible worlds.
            task: The request's task-side masks.
            seen: The observed configs, encoded.
            observations: The observations (their scores, in ``seen``'s order).
            candidates: The candidates' predictions in each world, their weighted mean,
                their encodings and their config-side tree masks.
            k: How many to pick.
            allowed: Which candidates may be picked (None: all).
        """
        per_world, ranked, encoded, masks = candidates
        settings = self.settings
        choice = settings.observed_choice
        if settings.observed_stall and stalled(observations, settings.observed_stall):
            choice = settings.observed_stall_choice
        if choice in ("residual", "corrected"):
            # The prior is the meta-model's worlds alone: the task's own model was fitted
            # on these observations, so its predictions of them are not a prior.
            prior = worlds.without_own()
            _, prior_seen = prior.scores(self.compiled, self.table, task, seen.masks)
            n = len(prior.rows)
            prior_candidates = prior.weights @ per_world[:n]
            scores = np.array([o.score for o in observations], dtype=float)
            return residual_picks(
                prior_seen, scores, seen.encoded, prior_candidates, encoded, k, allowed,
                self.settings.seed, self._widths, explore=choice == "residual",
            )  # fmt: skip
        if choice in ("kernel", "kernel_ei"):
            # Every world's predictions, the credible ones' rows among them (SELF is the
            # last row), give both the kernel and the prior.
            prior = worlds.without_own()
            all_seen = every_world(self.compiled, self.table, task, seen.masks)
            all_candidates = every_world(self.compiled, self.table, task, masks)
            scores = np.array([o.score for o in observations], dtype=float)
            return kernel_picks(
                all_seen, all_candidates, prior.weights @ all_seen[prior.rows],
                prior.weights @ all_candidates[prior.rows], scores, k, allowed,
                explore=choice == "kernel_ei",
                seen_x=np.nan_to_num(seen.encoded / self._widths, nan=INACTIVE),
                candidates_x=np.nan_to_num(encoded / self._widths, nan=INACTIVE),
            )  # fmt: skip
        if choice == "improvement":
            observed, _ = worlds.scores(self.compiled, self.table, task, seen.masks, seen.encoded)
            return improvement_picks(
                per_world, worlds.weights, observed.max(axis=1), ranked, k, allowed
            )
        if choice == "sample":
            seed = settings.seed + len(observations)
            return sampled_picks(per_world, worlds.weights, ranked, k, allowed, seed)
        if choice == "own" and worlds.own is not None:
            # The task's own model first, the worlds' mean breaking its ties.
            order = np.lexsort((-ranked, -per_world[-1]))
        else:
            order = np.argsort(-ranked, kind="stable")
        if allowed is not None:
            order = order[allowed[order]]
        return [int(i) for i in order[:k]]

    def _add_refinements(
        self,
        found: Candidates,
        task: np.ndarray,
        masks: np.ndarray,
        predictions: np.ndarray,
        fit_seconds: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Add perturbations of the best candidates to ``found``; the masks, predictions
        and fit seconds of all its candidates."""
        start = len(found)
        perturbed = refinements(
            self.encoder, self.compiled, self.settings, found.encoded(), predictions
        )
        found.add(perturbed, SuggestionOrigin.REFINEMENT)
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
        self,
        features: Mapping[str, float],
        pool: list[dict[str, ConfigValue]],
        k: int,
        train_rows: int | None = None,
        observations: Sequence[Observation] = (),
        *,
        read_at: int | None = None,
    ) -> list[int]:
        """Pick ``k`` of the given configs (pool mode: the candidates are fixed).

        With ``observations`` of the task (at least two different scores), the pool is
        ranked in the worlds they make credible, as :meth:`suggest` does. Probe scores
        are read as a request for ``read_at`` configs would read them (default ``k``).

        Returns:
            Indices into ``pool``, in the order they would be tried.
        """
        if not pool:
            return []
        read_at = k if read_at is None else read_at
        features = self.model_features(features, read_at)
        meta = self.index.vector(features)
        wide, _, _ = self.index.nearest(
            meta, max(self.settings.world_neighbours, self._near_count())
        )
        rows = wide[: self.settings.world_neighbours]
        encoded = self.encoder.encode(pool)
        masks = self.compiled.configs(encoded)
        task = self.compiled.task(self.task_input(features, train_rows))
        if len(observations) >= self.settings.observed_from:
            seen, worlds = self._observed(self._validated(observations), observations, task)
            if worlds is not None:
                per_world, ranked = worlds.scores(self.compiled, self.table, task, masks, encoded)
                found = (per_world, ranked, encoded, masks)
                return self._observed_picks(worlds, task, seen, observations, found, k, None)
        if observations:  # continue the zero-shot set: the observed configs are its members
            tried = {config_hash(o.config) for o in observations}
            extra = [dict(o.config) for o in observations]
            horizon = max(k + len(extra), self.settings.observed_from)
            picks = self.choose(features, [*pool, *extra], horizon, train_rows, read_at=read_at)
            kept = [i for i in picks if i < len(pool) and config_hash(pool[i]) not in tried]
            return kept[:k]
        predictions = self.compiled.scores(task, masks)
        mean = np.add.reduce(predictions, axis=0) / predictions.shape[0]
        unknown = np.full(len(pool), np.nan)  # fit times play no part in the choice
        known = self.table.column
        columns = np.array([known.get(config_hash(c), -1) for c in pool], dtype=int)
        choice = ScoredCandidates(rows, predictions, mean, unknown, None, k, columns, masks, wide)
        return self._chosen_sets([choice], [self._at_full_size(train_rows, meta)])[0]

    def _at_full_size(self, train_rows: int | None, meta: np.ndarray) -> bool:
        """Whether a request for ``train_rows`` (None: the table's rows, from the raw
        meta-features ``meta``) follows the full-size rules."""
        if self.full_size_choice is None or self._size_from is None:
            return False
        if train_rows is None:
            log_n = float(meta[self._size_from])
            if not np.isfinite(log_n):
                return False
            train_rows = round(float(np.exp(log_n)))
        return train_rows > self.full_size_choice[0]

    def _chosen_sets(
        self, choices: Sequence[ScoredCandidates], full_size: Sequence[bool]
    ) -> list[list[int]]:
        """Each request's set, by the set choice of its size."""
        if self.full_size_choice is None or not any(full_size):
            return self.set_choice(list(choices))
        picks: list[list[int]] = [[] for _ in choices]
        for flag, chooser in ((False, self.set_choice), (True, self.full_size_choice[1])):
            at = [i for i, f in enumerate(full_size) if f == flag]
            if at:
                for i, chosen in zip(at, chooser([choices[i] for i in at]), strict=True):
                    picks[i] = chosen
        return picks

    def _near_count(self) -> int:
        """How many nearest training tasks a request looks up for the local portfolio rules
        (0 where the model holds no measured scores: no such rule can be served)."""
        return 0 if self.table.measured is None else self.settings.local_neighbours


def _suggestions(
    candidates: Candidates,
    choice: ScoredCandidates,
    chosen: list[int],
    nearest: tuple[NeighbourTask, ...],
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


def _continued(query: SuggestQuery, horizon: int) -> SuggestQuery:
    """The zero-shot query whose set ``query`` continues past its observations: the set of
    ``horizon`` (until observations weigh the worlds, the client walks through one set, in
    the order its rule gives), or of ``k`` plus their number where that is more
    (observations not among the candidates take no place in the set)."""
    if not query.observations:
        return query
    return replace(query, k=max(query.k + min(len(query.observations), MAX_K), horizon))


def _continuation(
    query: SuggestQuery,
    asked: SuggestQuery,
    answer: Recommendation | WarmstartError,
    tried: set[str],
) -> Recommendation | WarmstartError:
    """``query``'s answer from the answer to its continued set ``asked``: the members not
    among the ``tried`` (the observed configs' hashes), at most ``k`` of them.

    An observation of a config the request also excludes is simply excluded.
    """
    if asked is query or isinstance(answer, WarmstartError):
        return answer
    kept = [s for s in answer.suggestions if config_hash(s.config) not in tried]
    if not kept:
        return FailedPreconditionError(
            "every candidate config is in the exclude list or among the observations"
        )
    return replace(answer, suggestions=kept[: query.k])


def _filled(
    answers: list[Recommendation | WarmstartError | None],
) -> list[Recommendation | WarmstartError]:
    """The answers, every one of which has been given."""
    done = [a for a in answers if a is not None]
    if len(done) != len(answers):
        raise RuntimeError("a request was left without an answer")  # a bug, not bad input
    return done
