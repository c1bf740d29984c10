"""Set choice: which k of a request's scored candidates to suggest, in the order to try them.

A set choice is any callable that takes several requests' :class:`ScoredCandidates`
and returns, for each, the chosen candidate indices (:class:`SetChoice`). The rules
(:data:`SET_RULES`, made by :func:`make_set_choice`):

- ``expected_best`` (:class:`ExpectedBestSets`) picks greedily to maximise the
  *expected best* of the set over plausible worlds: the ensemble members on the
  task, and the members on its nearest training tasks (from the world table). A
  near-copy of a chosen config scores alike in every world, adds nothing, and so
  is not chosen again. Requests of the same shape are chosen together, in one
  compiled loop.
- ``top_predicted`` (:class:`TopPredicted`): the k best by the ensemble's mean.
- ``portfolio`` and ``top_then_portfolio`` (:class:`PortfolioOrder`): the greedy
  portfolio in its order, after the model's best for the second; the model's
  best fill what the portfolio cannot. ``default_then_portfolio``: the space's
  default config first, then the portfolio (what a user gets for free: the
  library's default, then robust configs).
- ``nearest_best`` (:class:`NearestOrder`): the nearest-neighbour warm start, the
  best config of the nearest training task, then of the next nearest, ...; the
  model's best fill what the neighbours cannot.
- ``local_portfolio`` and ``top_then_local`` (:class:`LocalPortfolio`): a greedy
  portfolio of the *measured* scores of the task's nearest training tasks, built
  for the request, after the model's best for the second: between the global
  portfolio, which covers every kind of task alike, and the nearest neighbour's
  best, which bets on one.

Which rule a bundle serves is chosen when it is trained, on inner splits of its
training tasks (see :mod:`warmstart.metamodel.bundle`): in some spaces the model ranks
configs within a task better than any fixed list, in others a portfolio covers
the kinds of task better than the model's picks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.kernels import greedy_picks, local_greedy
from warmstart.metamodel.recommend._settings import RecommenderSettings
from warmstart.metamodel.recommend._worlds import WorldTable

__all__ = [
    "LOCAL_RULES",
    "NEAREST_RULES",
    "PORTFOLIO_RULES",
    "SET_RULES",
    "ExpectedBestSets",
    "LocalPortfolio",
    "NearestOrder",
    "PortfolioOrder",
    "ScoredCandidates",
    "SetChoice",
    "TopPredicted",
    "make_set_choice",
    "rules_by_k",
]

SET_RULES = (
    "expected_best",
    "top_predicted",
    "portfolio",
    "top_then_portfolio",
    "default_then_portfolio",
    "nearest_best",
    "local_portfolio",
    "top_then_local",
    "wins_then_local",
)
"""The set rules a recommender can serve."""
PORTFOLIO_RULES = ("portfolio", "top_then_portfolio", "default_then_portfolio")
"""The rules that follow the portfolio's order."""
NEAREST_RULES = ("nearest_best",)
"""The rules that follow the nearest training tasks' best configs."""
LOCAL_RULES = ("local_portfolio", "top_then_local", "wins_then_local")
"""The rules that need the training tasks' measured scores (:attr:`WorldTable.measured`)."""


@dataclass(frozen=True)
class ScoredCandidates:
    """One request's scored candidates, from which its set is chosen."""

    rows: np.ndarray  # the nearest training tasks' index rows, nearest first
    predictions: np.ndarray  # members x candidates, on the task itself
    mean: np.ndarray  # the members' mean per candidate
    fit_seconds: np.ndarray  # predicted (NaN: unknown)
    allowed: np.ndarray | None  # which candidates may be picked (None: all)
    k: int
    columns: np.ndarray  # each candidate's world-table column (-1: outside it)
    masks: np.ndarray  # each candidate's config-side tree masks
    near: np.ndarray | None = None  # the local rules' nearest index rows (None: ``rows``)

    @classmethod
    def of(
        cls,
        rows: np.ndarray,
        predictions: np.ndarray,
        fit_seconds: np.ndarray,
        k: int,
        max_fit_seconds: float | None,
        columns: np.ndarray,
        masks: np.ndarray,
        n_candidates: int,
        near: np.ndarray | None = None,
        margin: float = 1.0,
    ) -> ScoredCandidates:
        """A request's candidates, once its fit-time limit is applied: a candidate is
        allowed where its predicted fit time times ``margin`` (the fit-time model's
        error margin, :attr:`~warmstart.metamodel.surrogate.Surrogate.fit_time_margin`)
        is within the limit, or unknown.

        Raises:
            FailedPreconditionError: No candidate is left, or none fits the limit.
        """
        if not n_candidates:
            raise FailedPreconditionError("every candidate config is in the exclude list")
        members = predictions.shape[0]
        mean = np.add.reduce(predictions, axis=0) / members  # = predictions.mean(axis=0)
        allowed = None
        limit = max_fit_seconds
        if limit is not None:
            allowed = ~(fit_seconds * margin > limit)  # unknown (NaN) fit times are allowed
            if not allowed.any():
                raise FailedPreconditionError(
                    f"no candidate is predicted to fit within {limit:g} s; the "
                    f"fastest is predicted at {float(np.nanmin(fit_seconds)):.3g} s, "
                    f"and the fit-time model may be {margin:.3g} times too fast"
                )
        return cls(rows, predictions, mean, fit_seconds, allowed, k, columns, masks, near)


class SetChoice(Protocol):
    """Chooses each request's set from its scored candidates."""

    def __call__(self, requests: Sequence[ScoredCandidates]) -> list[list[int]]:
        """For each request, up to ``k`` of its allowed candidates' indices, in the order
        they would be tried (fewer only where fewer are allowed)."""
        ...


class ExpectedBestSets:
    """The k configs with the best expected best over the task's and its neighbours' worlds.

    The ensemble members alone are too alike to tell a varied set from k near-copies
    once the first few picks are made. Predicting the shortlist as if the task were
    each of its nearest training tasks adds plausible worlds that differ where it
    matters, much as a greedy portfolio covers kinds of task. The first pick is the
    best under the task's own worlds.

    Args:
        table: The world table (the candidates' columns refer to it).
        settings: ``world_neighbours``, ``self_weight`` and ``shortlist`` are used.
    """

    def __init__(self, table: WorldTable, settings: RecommenderSettings) -> None:
        self.table = table
        self.settings = settings
        self.compiled = table.compiled
        # The world table times the weight of a world's member, for the usual number of
        # worlds: a request gathers its worlds' cells with the weighting already done.
        self._world_weight = self._weights(self.compiled.n_members, settings.world_neighbours)[1]
        self._weighted_table = table.scores * self._world_weight
        # Load (or compile) the greedy loop now, not on the first request.
        greedy_picks(np.zeros((1, 1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), 1, False)

    def __call__(self, requests: Sequence[ScoredCandidates]) -> list[list[int]]:
        """For each request, the chosen candidate indices, in the order they would be tried."""
        settings = self.settings
        plans: list[_Plan] = []
        for choice in requests:
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


@dataclass(frozen=True)
class _Plan:
    """A greedy choice to make: see :func:`_expected_best_sets`."""

    weighted: np.ndarray
    allowed: np.ndarray | None
    first: np.ndarray | None
    picks: int
    shortlist: np.ndarray | None = None  # candidate index of each column (None: the same)


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


def _ranked(choice: ScoredCandidates) -> list[int]:
    """The allowed candidates, best mean prediction first (ties: the earlier candidate)."""
    order = np.argsort(-choice.mean, kind="stable")
    if choice.allowed is not None:
        order = order[choice.allowed[order]]
    return [int(i) for i in order]


class TopPredicted:
    """The k allowed candidates with the best mean prediction."""

    def __call__(self, requests: Sequence[ScoredCandidates]) -> list[list[int]]:
        """For each request, the chosen candidate indices, best first."""
        return [_ranked(choice)[: choice.k] for choice in requests]


def _first_at_column(choice: ScoredCandidates) -> dict[int, int]:
    """Each world-table column's first candidate index."""
    at: dict[int, int] = {}
    for i, column in enumerate(choice.columns.tolist()):
        if column >= 0:
            at.setdefault(column, i)
    return at


def _in_order(choice: ScoredCandidates, lead: int, columns: Sequence[int]) -> list[int]:
    """The model's ``lead`` best, then the candidates at ``columns`` in that order, then the
    model's best: the first ``k`` allowed, each once."""
    ranked = _ranked(choice)
    allowed = set(ranked)
    at = _first_at_column(choice)
    order = ranked[:lead]
    for column in columns:
        found = at.get(column)
        if found is not None and found in allowed and found not in order:
            order.append(found)
    taken = set(order)
    order += [i for i in ranked if i not in taken]
    return order[: choice.k]


class NearestOrder:
    """The nearest training tasks' best configs, nearest first (nearest-neighbour warm start).

    Args:
        table: The world table (its ``best_by_row`` gives each training task's best).
    """

    def __init__(self, table: WorldTable) -> None:
        self.best_by_row = table.best_by_row

    def __call__(self, requests: Sequence[ScoredCandidates]) -> list[list[int]]:
        """For each request, the chosen candidate indices, in the order they would be tried."""
        chosen = []
        for choice in requests:
            firsts = [
                self.best_by_row[row][0] for row in choice.rows.tolist() if self.best_by_row[row]
            ]
            chosen.append(_in_order(choice, 0, firsts))
        return chosen


class PortfolioOrder:
    """The greedy portfolio's configs in its order, optionally after the model's best.

    Args:
        table: The world table (the candidates' columns refer to it; its
            ``portfolio`` group is the order, after its ``default`` group with
            ``default_first``).
        lead: How many of the model's best come first (0: the portfolio alone).
        default_first: Whether the space's default config leads the portfolio.

    Raises:
        FailedPreconditionError: ``default_first`` and the table has no default config.
    """

    def __init__(self, table: WorldTable, lead: int, default_first: bool = False) -> None:
        if default_first and "default" not in table.positions:
            raise FailedPreconditionError("the world table holds no default config")
        ahead = table.positions["default"].tolist() if default_first else []
        self.portfolio = ahead + table.positions["portfolio"].tolist()
        self.lead = lead

    def __call__(self, requests: Sequence[ScoredCandidates]) -> list[list[int]]:
        """For each request, the chosen candidate indices, in the order they would be tried."""
        return [_in_order(choice, self.lead, self.portfolio) for choice in requests]


class LocalPortfolio:
    """A greedy portfolio of the nearest training tasks' measured scores, per request.

    Configs are chosen one at a time to maximise the sum over the task's
    ``local_neighbours`` nearest training tasks of the best measured (min-max
    normalised) score within the set, as the greedy portfolio does over all training
    tasks; a score not measured counts as 0, as there. Only candidates in the world
    table have measured scores; ties (no gain on any neighbour) go to the model's
    best, which also fill what the neighbours' scores cannot.

    Args:
        table: The world table, with :attr:`WorldTable.measured`.
        settings: ``local_neighbours`` is used.
        lead: How many of the model's best come first (their scores count as chosen).
        wins_first: Whether the first pick (after ``lead``) is the config that beats the
            default most often (see :data:`SET_RULES`' ``wins_then_local``); where no
            training task measured the default, the local portfolio's pick.

    Raises:
        FailedPreconditionError: The table holds no measured scores, or ``wins_first``
            and it holds no default config.
    """

    def __init__(
        self,
        table: WorldTable,
        settings: RecommenderSettings,
        lead: int,
        wins_first: bool = False,
    ) -> None:
        if table.measured is None:
            raise FailedPreconditionError(
                "the local_portfolio rules need the training tasks' measured scores, which "
                "this model does not hold; retrain it with this warmstart"
            )
        self.values = np.nan_to_num(table.measured, nan=0.0)
        self.n_near = settings.local_neighbours
        self.lead = lead
        self.wins: tuple[np.ndarray, np.ndarray] | None = None
        """Tasks x columns: +1 where the column's config beat the default on the task, -1
        where it lost, 0 where they tie or either is not measured; and its mean over the
        tasks (None: the first pick is the local portfolio's)."""
        if wins_first:
            if "default" not in table.positions:
                raise FailedPreconditionError("the world table holds no default config")
            default = int(table.positions["default"][0])
            # Without the default measured on any training task there is nothing to count:
            # the rule is the local portfolio.
            if np.isfinite(table.measured[:, default]).any():
                difference = table.measured - table.measured[:, [default]]
                signs = np.sign(np.nan_to_num(difference, nan=0.0))
                self.wins = signs, signs.mean(axis=0)

    def __call__(self, requests: Sequence[ScoredCandidates]) -> list[list[int]]:
        """For each request, the chosen candidate indices, in the order they would be tried."""
        plans = [self._plan(choice) for choice in requests]
        self._greedy([plan for plan in plans if plan.rounds])
        chosen = []
        for plan, choice in zip(plans, requests, strict=True):
            taken = set(plan.order)
            order = plan.order + [i for i in plan.ranked if i not in taken]
            chosen.append(order[: choice.k])
        return chosen

    def _plan(self, choice: ScoredCandidates) -> _LocalPlan:
        """The model's lead and the wins' first pick; what the greedy portfolio starts from."""
        ranked = _ranked(choice)
        order = ranked[: self.lead]
        near = (choice.rows if choice.near is None else choice.near)[: self.n_near]
        usable = choice.columns >= 0
        if choice.allowed is not None:
            usable &= choice.allowed
        usable[order] = False
        if self.wins is not None and usable.any():
            signs, overall = self.wins
            picks = np.flatnonzero(usable)
            columns = choice.columns[picks]
            count = overall[columns]
            if len(near):
                count = count + signs[near[:, None], columns].mean(axis=0)
            first = int(picks[_best_then_mean(count, choice.mean[picks])])
            order.append(first)
            usable[first] = False
        if not (len(near) and usable.any() and len(order) < choice.k):
            return _LocalPlan(ranked, order)
        # The picks with the best model mean first (ties: the earlier candidate), so that
        # the first highest gain is the tie-break ``_best_then_mean`` would make.
        picks = np.flatnonzero(usable)
        picks = picks[np.argsort(-choice.mean[picks], kind="stable")]
        chosen = choice.columns[order]
        return _LocalPlan(
            ranked,
            order,
            near,
            picks,
            choice.columns[picks],
            chosen[chosen >= 0],
            min(choice.k - len(order), len(picks)),
        )

    def _greedy(self, plans: Sequence[_LocalPlan]) -> None:
        """Add each plan's greedy portfolio picks to its order, every request in one call.

        The requests' neighbours' scores are gathered into one padded array (missing
        neighbours and picks hold 0, which adds nothing to a gain, and a missing pick is
        never chosen); each set's best starts at what its lead already holds.
        """
        if not plans:
            return
        n_near = max(len(plan.near) for plan in plans)
        n_picks = max(len(plan.picks) for plan in plans)
        values = np.zeros((len(plans), n_near, n_picks))
        best = np.zeros((len(plans), n_near))
        taken = np.ones((len(plans), n_picks), dtype=bool)
        for r, plan in enumerate(plans):
            near, picks = len(plan.near), len(plan.picks)
            values[r, :near, :picks] = self.values[plan.near[:, None], plan.columns]
            if len(plan.held):
                held = self.values[plan.near[:, None], plan.held]
                best[r, :near] = held.max(axis=1, initial=0.0)
            taken[r, :picks] = False
        rounds = np.array([plan.rounds for plan in plans], dtype=np.int64)
        found = local_greedy(values, best, taken, rounds)
        for plan, row in zip(plans, found, strict=True):
            plan.order.extend(plan.picks[row[: plan.rounds]].tolist())


@dataclass
class _LocalPlan:
    """One request of a local portfolio rule: its ranked candidates and the order so far;
    where the greedy portfolio adds ``rounds`` picks, its nearest training tasks, the picks
    (best model mean first) with their world-table columns, and the columns already held."""

    ranked: list[int]
    order: list[int]
    near: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    picks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    held: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    rounds: int = 0


def _best_then_mean(value: np.ndarray, mean: np.ndarray) -> int:
    """The index of the highest ``value``; ties go to the best model mean, then the first."""
    top = value == value.max()
    return int(np.flatnonzero(top)[np.argmax(mean[top])])


def make_set_choice(rule: str, table: WorldTable, settings: RecommenderSettings) -> SetChoice:
    """The set choice of a rule named in :data:`SET_RULES`.

    Raises:
        InvalidRequestError: An unknown rule.
    """
    if rule == "expected_best":
        return ExpectedBestSets(table, settings)
    if rule == "top_predicted":
        return TopPredicted()
    if rule == "portfolio":
        return PortfolioOrder(table, lead=0)
    if rule == "top_then_portfolio":
        return PortfolioOrder(table, lead=1)
    if rule == "default_then_portfolio":
        return PortfolioOrder(table, lead=0, default_first=True)
    if rule == "nearest_best":
        return NearestOrder(table)
    if rule == "local_portfolio":
        return LocalPortfolio(table, settings, lead=0)
    if rule == "top_then_local":
        return LocalPortfolio(table, settings, lead=1)
    if rule == "wins_then_local":
        return LocalPortfolio(table, settings, lead=0, wins_first=True)
    raise InvalidRequestError(
        f"unknown set rule {_shown(rule)}; the rules are {', '.join(SET_RULES)}"
    )


class _ByK:
    """Each request chosen by the rule of the largest key <= its k."""

    def __init__(self, choices: Mapping[int, SetChoice]) -> None:
        self.keys = sorted(choices)
        self.choices = choices

    def __call__(self, requests: Sequence[ScoredCandidates]) -> list[list[int]]:
        groups: dict[int, list[int]] = {}
        for i, choice in enumerate(requests):
            key = max((key for key in self.keys if key <= choice.k), default=self.keys[0])
            groups.setdefault(key, []).append(i)
        chosen: list[list[int]] = [[] for _ in requests]
        for key, members in groups.items():
            picks = self.choices[key]([requests[i] for i in members])
            for i, picked in zip(members, picks, strict=True):
                chosen[i] = picked
        return chosen


def rules_by_k(
    rules: Mapping[int, str], table: WorldTable, settings: RecommenderSettings
) -> SetChoice:
    """The set choice that follows ``rules[key]`` for requests of k >= key (largest such key).

    Raises:
        InvalidRequestError: No rule, a key below 1, or an unknown rule.
    """
    if not rules or min(rules) < 1:
        raise InvalidRequestError(
            f"set rules are given per smallest k >= 1, starting at 1; got keys {sorted(rules)}"
        )
    made: dict[str, SetChoice] = {}
    for rule in rules.values():
        if rule not in made:
            made[rule] = make_set_choice(rule, table, settings)
    if len(made) == 1:
        return next(iter(made.values()))
    return _ByK({key: made[rule] for key, rule in rules.items()})


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "...")
