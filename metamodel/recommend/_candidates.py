"""One request's candidate configs: gathered from the world table, screened, and refined.

Candidates are the library default, the greedy portfolio, the best configs of the
task's nearest training tasks, and Sobol samples of the space; optionally also
local refinements around the best-scoring of those. A task far from every
training task (out of distribution) gets only the robust ones: the default, the
portfolio and the neighbours' best.

Screening keeps the samples cheap: each sample's mean predicted score on the
task's nearest training tasks is read from the world table, and only the best
``n_screened`` are scored for the task itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.recommend._settings import RecommenderSettings
from warmstart.metamodel.recommend._worlds import EncodedConfigs, WorldTable
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.surrogate import CompiledSurrogate
from warmstart.metamodel.types import ConfigValue, SuggestionOrigin

__all__ = ["Candidates", "gather_candidates", "refinements", "space_samples"]


class Candidates:
    """One request's candidates: columns of the world table first, then configs outside it.

    Bookkeeping is on table columns (a byte per column and plain lists: a request
    handles a few dozen), not on hashes, so a request pays for hashing only the
    configs it excludes and any refinements.

    Args:
        table: The world table the columns refer to.
        excluded: Hashes of the configs not to suggest.
    """

    def __init__(self, table: WorldTable, excluded: set[str]) -> None:
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

    def add(self, extra: EncodedConfigs, origin: SuggestionOrigin) -> None:
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


def gather_candidates(
    table: WorldTable,
    settings: RecommenderSettings,
    rows: np.ndarray,
    out_of_distribution: bool,
    exclude: Iterable[Mapping[str, ConfigValue]],
    *,
    screen: bool = True,
    nearest_rows: int = 0,
) -> Candidates:
    """The table's configs a request considers, robust ones first.

    Args:
        table: The world table.
        settings: How many candidates of each kind.
        rows: The nearest training tasks' index rows, nearest first.
        out_of_distribution: Whether the task is far from every training task.
        exclude: Configs not to suggest.
        screen: Screen the samples on the nearest tasks' worlds (predicted at those
            tasks' own training sizes); False scores every sample for the task itself,
            as a request for another training size needs.
        nearest_rows: Also take the best config of each of this many nearest tasks
            (the ``nearest_best`` rule's candidates), beyond ``n_neighbours``.
    """
    candidates = Candidates(table, {config_hash(c) for c in exclude})
    samples, portfolio = table.positions["samples"], table.positions["portfolio"]
    worlds = rows[: settings.world_neighbours]
    screening = (
        screen
        and not out_of_distribution
        and len(worlds) > 0
        and 0 < settings.n_screened < len(samples)
    )
    screen_portfolio = screening and settings.screen_portfolio
    candidates.take(table.positions["default"].tolist(), SuggestionOrigin.DEFAULT)
    if not screen_portfolio:
        candidates.take(portfolio.tolist(), SuggestionOrigin.PORTFOLIO)
    best = table.best_by_row
    neighbours_best = [c for row in rows[: settings.n_neighbours].tolist() for c in best[row]]
    n = settings.n_neighbours
    neighbours_best += [best[row][0] for row in rows[n:nearest_rows].tolist() if best[row]]
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


def refinements(
    encoder: ConfigEncoder,
    compiled: CompiledSurrogate,
    settings: RecommenderSettings,
    encoded: np.ndarray,
    predictions: np.ndarray,
) -> EncodedConfigs:
    """Perturbations of the best candidates in encoded space; categoricals switch now and then.

    Args:
        encoder: The space's config encoder.
        compiled: The compiled surrogate (for the new configs' tree masks).
        settings: How many to perturb, how many times, and how far.
        encoded: The candidates' encodings.
        predictions: Members x candidates, on the task.
    """
    top = np.argsort(-predictions.mean(axis=0), kind="stable")[: settings.n_refine_from]
    rng = np.random.default_rng(settings.seed)
    categorical = np.zeros(encoded.shape[1], dtype=bool)
    categorical[list(encoder.categorical)] = True
    n_choices = np.array(encoder.n_choices, dtype=float)
    moved_all = []
    for vector in encoded[top]:
        jitter = rng.normal(0.0, settings.refine_scale, (settings.n_refine_each, len(vector)))
        moved = np.where(categorical, vector, np.clip(vector + jitter, 0.0, 1.0))
        flips = rng.random(moved.shape) < 0.1
        # A switched categorical takes any of its choices with equal chance.
        choices = np.floor(rng.random(moved.shape) * n_choices)
        moved = np.where(categorical & flips & np.isfinite(vector), choices, moved)
        moved_all.append(moved)
    found = encoder.decode(np.vstack(moved_all), drop_invalid=True) if moved_all else []
    # Decoding snaps to valid configs (and drops forbidden ones): encode them again.
    return EncodedConfigs.of(encoder, compiled, found)


def space_samples(
    encoder: ConfigEncoder, compiled: CompiledSurrogate, n: int, seed: int
) -> EncodedConfigs:
    """``n`` configs drawn uniformly from the whole space, on each parameter's scale.

    Points of the encoded unit cube (a categorical takes each choice with equal chance)
    decoded to their configs: as random sampling of the space, without building a
    ConfigSpace configuration per sample (a few times cheaper, as a request needs).
    Forbidden configs are dropped, so a few fewer than ``n`` may come back.
    """
    rng = np.random.default_rng(seed)
    vectors = rng.random((n, len(encoder.names)))
    for column in encoder.categorical:
        vectors[:, column] = np.floor(vectors[:, column] * encoder.n_choices[column])
    found = encoder.decode(vectors, drop_invalid=True) if n else []
    return EncodedConfigs.of(encoder, compiled, found)
