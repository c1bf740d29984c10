"""Learner probes: a few of a space's configs trained on a small sample of the task.

Meta-features describe a table; they say little about which configs of a learner win
on it. A *probe* asks the learner itself: a config of the space trained on a sample of
the task (:data:`PROBE_ROWS` rows, :data:`PROBE_FOLDS`-fold CV, seed :data:`PROBE_SEED`,
by the benchmark runner's protocol). A model that reads probes takes, after the
meta-features, each probe's score less the probes' mean (which config wins on this
task) and that mean (how hard the task is): :func:`probe_inputs`.

Where probe scores live:

- For training tasks, in the store as a feature set of their own
  (:func:`probe_version`: ``probes-<space>``), one value per probe candidate config,
  named by the config's hash. A knowledge-base build measures them for the candidates
  that :func:`~warmstart.metamodel.probe_choice.choose_probes` ranks first on all records.
- In a request, as meta-features named ``probe:<config hash>`` (:func:`probe_key`)
  beside the ordinary ones; a client that runs no probes sends none, and the model
  answers from the meta-features alone.

:func:`~warmstart.metamodel.probe_choice.choose_probes` picks a bundle's probes from
its training records. This module holds what a client needs too (names, reading a
request), and loads no model code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from warmstart.metamodel.types import ConfigValue, TaskFeatures

__all__ = [
    "PROBED_SUFFIX",
    "PROBE_FOLDS",
    "PROBE_KEY_PREFIX",
    "PROBE_ROWS",
    "PROBE_SEED",
    "Probe",
    "ProbeReader",
    "is_probe_version",
    "probe_input_names",
    "probe_inputs",
    "probe_key",
    "probe_request",
    "probe_scores_of",
    "probe_version",
    "split_rule",
    "with_probe_inputs",
]

PROBE_ROWS = 1000
"""Rows of the task a probe is trained on (a sample where the task has more)."""
PROBE_FOLDS = 3
"""Cross-validation folds of a probe's score."""
PROBE_SEED = 1
"""The seed of a probe's row sample, CV split and model: not the records' seed 0, so a
probe's score is a second measurement, not a copy of a stored one."""
PROBE_KEY_PREFIX = "probe:"
"""A request's raw probe score is the meta-feature ``probe:<config hash>``."""

PROBED_SUFFIX = "+probes"
"""A set rule named ``<rule>+probes`` is served reading the request's probe scores; the
rule alone is served with them left out (a bundle chooses which, per k, on inner folds)."""

Probe = tuple[str, dict[str, ConfigValue]]
"""A probe: the config's hash and the config."""


def split_rule(rule: str) -> tuple[str, bool]:
    """``(set rule, reads probes)`` of a served rule name (see :data:`PROBED_SUFFIX`)."""
    if rule.endswith(PROBED_SUFFIX):
        return rule[: -len(PROBED_SUFFIX)], True
    return rule, False


def probe_version(space_name: str) -> str:
    """The feature-set version under which the store keeps a space's probe scores."""
    return f"probes-{space_name}"


def is_probe_version(version: str) -> bool:
    """Whether a feature-set version holds probe scores (:func:`probe_version`)."""
    return version.startswith("probes-")


def probe_key(digest: str) -> str:
    """The name of a probe's raw score among a request's meta-features."""
    return PROBE_KEY_PREFIX + digest


def probe_scores_of(feature_sets: Mapping[str, TaskFeatures]) -> dict[str, dict[str, float]]:
    """Each task's probe scores by config hash, from the store's probe feature sets
    (missing scores left out)."""
    return {
        task_id: {h: float(v) for h, v in zip(f.names, f.values, strict=True) if math.isfinite(v)}
        for task_id, f in feature_sets.items()
    }


def probe_request(scores: Mapping[str, float]) -> dict[str, float]:
    """Probe scores by config hash as a request's meta-features (:func:`probe_key`)."""
    return {probe_key(h): float(v) for h, v in scores.items()}


def probe_input_names(n: int) -> tuple[str, ...]:
    """The model inputs made from ``n`` probes: ``probe_delta_<i>`` and ``probe_mean``."""
    return (*(f"probe_delta_{i}" for i in range(n)), "probe_mean")


def probe_inputs(scores: Mapping[str, float], probes: Sequence[str]) -> tuple[float, ...]:
    """The model inputs of a task's probe ``scores`` (by config hash) for ``probes``: each
    score less their mean, then the mean (all NaN where none was measured)."""
    values = np.array([scores.get(h, math.nan) for h in probes], dtype=float)
    if not np.isfinite(values).any():
        return (math.nan,) * (len(probes) + 1)
    mean = float(np.nanmean(values))
    return (*(float(v - mean) for v in values), mean)


def with_probe_inputs(
    base: TaskFeatures, probes: Sequence[str], scores: Mapping[str, float]
) -> TaskFeatures:
    """``base`` followed by the probe inputs (:func:`probe_input_names`) of ``scores``."""
    return TaskFeatures(
        base.task_id,
        base.version,
        base.names + probe_input_names(len(probes)),
        base.values + probe_inputs(scores, probes),
    )


class ProbeReader:
    """Turns a request's meta-features into a model's inputs, probes read or left out.

    A request may carry raw probe scores (``probe:<hash>``, :func:`probe_key`) or, as
    the evaluation passes them, the probe inputs themselves (:func:`probe_input_names`).
    Raw scores of configs that are not this model's probes are ignored: a client that
    probed for another model version still gets an answer.

    Args:
        probes: The model's probe config hashes, in input order (empty: a model that
            reads no probes).
    """

    def __init__(self, probes: Sequence[str]) -> None:
        self.probes = tuple(probes)
        self.names = probe_input_names(len(self.probes)) if self.probes else ()
        self._names = frozenset(self.names)

    def inputs(self, features: Mapping[str, float], read: bool) -> dict[str, float]:
        """``features`` without raw probe scores; with the probe inputs where ``read``
        (made from the raw scores unless given), without them otherwise."""
        out = {
            name: value
            for name, value in features.items()
            if not name.startswith(PROBE_KEY_PREFIX) and name not in self._names
        }
        if not (read and self.probes):
            return out
        if any(name in features for name in self.names):
            out.update({name: features[name] for name in self.names if name in features})
            return out
        raw = {
            name[len(PROBE_KEY_PREFIX) :]: float(value)
            for name, value in features.items()
            if name.startswith(PROBE_KEY_PREFIX)
        }
        out.update(zip(self.names, probe_inputs(raw, self.probes), strict=True))
        return out
