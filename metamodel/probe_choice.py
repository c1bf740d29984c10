"""Choosing a model's learner probes from its training records.

Among the configs evaluated on most tasks and cheaper than the median to fit, the
library default comes first, then those whose rankings across tasks vary in the most
different ways: a pivoted QR of the tasks x configs rank matrix, each config's mean rank
removed (see :mod:`warmstart.metamodel.probes` for what a probe is).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

import numpy as np
from scipy.linalg import qr

from warmstart.metamodel.portfolio import primary_records, score_matrix
from warmstart.metamodel.probes import Probe
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.types import ConfigValue, EvaluationRecord

__all__ = ["MIN_COVERAGE", "choose_probes"]

MIN_COVERAGE = 0.8
"""A probe candidate is evaluated on at least this share of the training tasks."""


def choose_probes(
    records: Sequence[EvaluationRecord],
    n: int,
    default: Mapping[str, ConfigValue] | None = None,
    among: Collection[str] | None = None,
) -> list[Probe]:
    """``n`` probe configs (hash, config) from training records (see the module).

    Args:
        records: The training records.
        n: How many probes (fewer where fewer configs qualify).
        default: The learner's default config: the first probe where it is a candidate.
        among: Only these config hashes may be probes (those whose probe scores are
            stored); None: any.
    """
    if n < 1:
        return []
    matrix = score_matrix(records, "rank")
    seconds: dict[str, list[float]] = defaultdict(list)
    for record in primary_records(records):
        if record.fit_seconds is not None:
            seconds[record.config_hash].append(record.fit_seconds)
    covered = np.isfinite(matrix.scores).mean(axis=0) >= MIN_COVERAGE
    if among is not None:
        covered &= np.array([h in among for h in matrix.config_hashes], dtype=bool)
    cost = np.array([np.median(seconds[h]) if seconds[h] else np.inf for h in matrix.config_hashes])
    cheap = cost <= np.median(cost[covered]) if covered.any() else covered
    # Where the stored probe scores fix the candidates, cost has chosen them already.
    columns = np.flatnonzero(covered if among is not None else covered & cheap)
    if len(columns) == 0:
        return []
    scores = matrix.scores[:, columns]
    means = np.nanmean(scores, axis=0)
    centred = np.where(np.isfinite(scores), scores, means) - means
    chosen: list[int] = []
    default_hash = config_hash(dict(default)) if default is not None else None
    hashes = [matrix.config_hashes[c] for c in columns]
    if default_hash in hashes:
        first = hashes.index(default_hash)
        chosen.append(first)
        # Remove what the default's column explains before pivoting on the rest.
        v = centred[:, first] / (np.linalg.norm(centred[:, first]) or 1.0)
        centred = centred - np.outer(v, v @ centred)
    _, _, pivots = qr(centred, pivoting=True, mode="economic")
    chosen += [int(p) for p in pivots if int(p) not in chosen][: n - len(chosen)]
    return [(hashes[c], dict(matrix.configs[columns[c]])) for c in chosen[:n]]
