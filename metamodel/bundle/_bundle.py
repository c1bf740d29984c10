"""Model bundles: everything a recommender needs, versioned and checked on load.

A bundle is one gzip'd JSON file holding the surrogate's LightGBM models (as
text), the task index, the portfolio and each training task's best configs,
the feature names and version, the search space (JSON and hash), the training
tasks' measured scores (for the local portfolio rules), a summary and hash of the
training data, evaluation metrics, library versions and the
creation time. Loading checks all of it and refuses a mismatch with a
:class:`FailedPreconditionError` that says what differs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.probes import Probe, probe_input_names, split_rule
from warmstart.metamodel.recommend import SET_RULES, Recommender, RecommenderSettings, TaskIndex
from warmstart.metamodel.recommend._set_choice import LOCAL_RULES
from warmstart.metamodel.spaces import load_configspace, parse_search_space
from warmstart.metamodel.surrogate import SIZE_INPUT, Surrogate, size_source
from warmstart.metamodel.types import ConfigValue, SearchSpace
from warmstart.metamodel.versions import installed_versions

__all__ = ["BUNDLE_FORMAT", "ModelBundle", "library_versions", "load_bundle"]

BUNDLE_FORMAT = 1
"""Bump when the bundle's layout changes; older readers refuse newer bundles."""

_LIBRARIES = ("lightgbm", "numpy", "scikit-learn", "ConfigSpace", "warmstart")
_MAJOR_MUST_MATCH = ("lightgbm",)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a bundle depends on."""
    return {
        name: found or "not installed" for name, found in installed_versions(_LIBRARIES).items()
    }


@dataclass(frozen=True)
class ModelBundle:
    """A trained model for one search space.

    Attributes:
        version: The model version, e.g. ``lightgbm-20261122T0412-3f9c2a1b``.
        space: The search space it was trained on.
        feature_version: The meta-feature set version its inputs use.
        surrogate: The ensemble and fit-time model.
        index: Training tasks in meta-feature space.
        portfolio: Robust configs, best first.
        task_best: Each training task's best configs.
        training: Summary of the training data (counts, hash, normalisation).
        metrics: Evaluation metrics (e.g. mean normalised regret at k).
        libraries: Library versions it was trained with.
        created_at: When it was trained (UTC).
        task_scores: Each training task's measured, min-max normalised score per config
            hash (the local portfolio rules read them; empty in older bundles).
    """

    version: str
    space: SearchSpace
    feature_version: str
    surrogate: Surrogate
    index: TaskIndex
    portfolio: list[dict[str, ConfigValue]]
    task_best: dict[str, list[dict[str, ConfigValue]]]
    training: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=library_versions)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    task_scores: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The meta-features the model expects, in order."""
        return self.index.feature_names

    @property
    def probes(self) -> list[Probe]:
        """The configs it probes a task with (hash, config), in input order; empty for a
        model that reads no probes (:mod:`warmstart.metamodel.probes`)."""
        return _probes(self.training)

    @property
    def reads_probes(self) -> bool:
        """Whether a request for some k reads its probe scores: only then is it worth
        running the probes on the user's table (a bundle may have probes as inputs while
        its inner folds chose, at every k, a rule that reads none)."""
        return any(split_rule(rule)[1] for rule in self.set_rules.values())

    @property
    def set_rules(self) -> dict[int, str]:
        """The set rule it serves per smallest k (chosen by its training's validation, whose
        figures are in ``metrics``); bundles trained without validation serve
        ``expected_best``."""
        return _set_rules(self.training)

    @property
    def full_size_rules(self) -> tuple[int, dict[int, str]] | None:
        """The rows above which a request is served other set rules, and those rules
        (chosen on the inner folds' full-size pools); None where the validation measured
        too few tasks at a larger size, or none."""
        return _full_size_rules(self.training)

    def recommender(self, settings: RecommenderSettings | None = None) -> Recommender:
        """A recommender backed by this bundle, serving its set rule."""
        return Recommender(
            load_configspace(self.space),
            self.surrogate,
            self.index,
            self.portfolio,
            self.task_best,
            settings,
            set_rule=self.set_rules,
            full_size_rules=self.full_size_rules,
            task_sizes=self.training.get("task_log_train_rows"),
            task_scores=self.task_scores,
            probes=[digest for digest, _ in self.probes],
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data of the whole bundle."""
        return {
            "format": BUNDLE_FORMAT,
            "version": self.version,
            "space": {
                "space_id": self.space.space_id,
                "name": self.space.name,
                "definition": self.space.definition,
            },
            "feature_version": self.feature_version,
            "feature_names": list(self.feature_names),
            "surrogate": self.surrogate.to_dict(),
            "index": self.index.to_dict(),
            "portfolio": self.portfolio,
            "task_best": self.task_best,
            "task_scores": _packed(self.task_scores),
            "training": self.training,
            "metrics": self.metrics,
            "libraries": self.libraries,
            "created_at": self.created_at.isoformat(),
        }

    def save(self, path: Path) -> str:
        """Write the bundle atomically; return the sha256 of the file."""
        payload = json.dumps(self.to_dict(), sort_keys=True, allow_nan=False).encode()
        data = gzip.compress(payload, mtime=0)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return hashlib.sha256(data).hexdigest()


def _packed(task_scores: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Task scores as one list of config hashes and a row of scores per task (None: not
    measured), rounded to 4 decimals: a tenth of the size of a mapping per task."""
    hashes = sorted({h for scores in task_scores.values() for h in scores})
    rows = {
        task_id: [None if scores.get(h) is None else round(float(scores[h]), 4) for h in hashes]
        for task_id, scores in sorted(task_scores.items())
    }
    return {"configs": hashes, "tasks": rows}


def _unpacked(data: Any) -> dict[str, dict[str, float]]:
    """:func:`_packed`'s inverse, checked.

    Raises:
        ValueError: Not the packed layout, a row of another length, or a score outside [0, 1].
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not isinstance(data.get("configs"), list):
        raise ValueError("task_scores must hold a list of configs and a row per task")
    hashes, rows = data["configs"], data.get("tasks")
    if not isinstance(rows, Mapping):
        raise ValueError("task_scores must hold a row per task")
    out: dict[str, dict[str, float]] = {}
    for task_id, row in rows.items():
        if not isinstance(row, list) or len(row) != len(hashes):
            raise ValueError(f"task_scores of task {str(task_id)[:40]!r} do not match its configs")
        scores = {}
        for digest, value in zip(hashes, row, strict=True):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(
                    f"task_scores of task {str(task_id)[:40]!r}: {str(value)[:20]!r} is not a "
                    "normalised score in [0, 1]"
                )
            scores[str(digest)] = float(value)
        out[str(task_id)] = scores
    return out


def _full_size_rules(training: Mapping[str, Any]) -> tuple[int, dict[int, str]] | None:
    """A bundle's full-size rules and the rows above which they serve, checked.

    Raises:
        ValueError: Rules without a size (or the reverse), a size that is not a whole
            number >= 1, or rules as :func:`_set_rules` refuses them.
    """
    above, given = training.get("full_size_above_rows"), training.get("set_rules_full_size")
    if above is None and given is None:
        return None
    if isinstance(above, bool) or not isinstance(above, int) or above < 1 or given is None:
        raise ValueError(
            "full-size set rules need both set_rules_full_size and full_size_above_rows "
            f"(a whole number >= 1), got {str(above)[:20]!r}"
        )
    return above, _set_rules(training, "set_rules_full_size")


def _set_rules(training: Mapping[str, Any], key: str = "set_rules") -> dict[int, str]:
    """A bundle's set rules from its training summary (``key``), checked.

    Raises:
        ValueError: A key that is not a k >= 1, no key 1, or a rule this code does not know.
    """
    given = training.get(key, {"1": "expected_best"})
    if not isinstance(given, Mapping):
        raise ValueError(f"{key} must map k to a rule, got {str(given)[:60]!r}")
    rules: dict[int, str] = {}
    for key, rule in given.items():
        if not str(key).isdigit() or int(key) < 1:
            raise ValueError(f"set rule key {str(key)[:20]!r} is not a k >= 1")
        if split_rule(str(rule))[0] not in SET_RULES:
            raise ValueError(
                f"set rule {str(rule)[:60]!r} is not one this warmstart knows "
                f"({', '.join(SET_RULES)})"
            )
        rules[int(key)] = str(rule)
    if 1 not in rules:
        raise ValueError(f"set rules start at k = 1, got keys {sorted(rules)}")
    return rules


def _probes(training: Mapping[str, Any]) -> list[Probe]:
    """A bundle's probes from its training summary, checked.

    Raises:
        ValueError: Not a list of ``{"hash": ..., "config": {...}}``.
    """
    given = training.get("probes", {})
    configs = given.get("configs", []) if isinstance(given, Mapping) else None
    if not isinstance(configs, list) or not all(
        isinstance(p, Mapping)
        and isinstance(p.get("hash"), str)
        and isinstance(p.get("config"), dict)
        for p in configs
    ):
        raise ValueError('probes must hold a list of configs, each {"hash": ..., "config": {...}}')
    return [(p["hash"], dict(p["config"])) for p in configs]


def load_bundle(
    path: Path,
    *,
    feature_version: str | None = None,
    spaces: Mapping[str, str] | None = None,
) -> ModelBundle:
    """Read a bundle and check it before anything uses it.

    Args:
        path: The bundle file.
        feature_version: The meta-feature version this code computes; refused if different.
        spaces: ``{space name: space id}`` the caller serves; refused if the
            bundle's space has that name with another id.

    Raises:
        InvalidRequestError: The file is missing or not a bundle.
        FailedPreconditionError: Format, feature version, feature names, space
            hash or a library's major version do not match.
    """
    path = Path(path)
    try:
        data = json.loads(gzip.decompress(path.read_bytes()))
    except FileNotFoundError:
        raise InvalidRequestError(f"no model bundle at {path}") from None
    except (OSError, EOFError, ValueError) as exc:
        raise InvalidRequestError(f"{path} is not a warmstart model bundle: {exc}") from None
    if not isinstance(data, dict) or "format" not in data:
        raise InvalidRequestError(f"{path} is not a warmstart model bundle")
    if data["format"] != BUNDLE_FORMAT:
        raise FailedPreconditionError(
            f"{path} has bundle format {data['format']}, this warmstart reads format "
            f"{BUNDLE_FORMAT}; retrain it with `warmstart train`"
        )
    space_data = data["space"]
    space = parse_search_space(space_data["name"], space_data["definition"])
    if space.space_id != space_data["space_id"]:
        raise FailedPreconditionError(
            f"{path}: the space's recorded hash {space_data['space_id']} does not match its "
            f"definition (hash {space.space_id}); the bundle was altered or corrupted"
        )
    if spaces is not None and space.name in spaces and spaces[space.name] != space.space_id:
        raise FailedPreconditionError(
            f"{path} was trained on space {space.name!r} version {space.space_id}, but the "
            f"served space {space.name!r} is version {spaces[space.name]}; retrain the model "
            "on records of the current space"
        )
    if feature_version is not None and data["feature_version"] != feature_version:
        raise FailedPreconditionError(
            f"{path} uses meta-features {data['feature_version']!r}, this warmstart computes "
            f"{feature_version!r}; retrain the model (stored records need no re-run)"
        )
    index = TaskIndex.from_dict(data["index"])
    if list(index.feature_names) != data["feature_names"]:
        raise FailedPreconditionError(f"{path}: the task index and the feature names disagree")
    margin = data["surrogate"].get("fit_time_margin", 1.0)
    if (
        isinstance(margin, bool)
        or not isinstance(margin, int | float)
        or not (math.isfinite(margin) and margin >= 1.0)
    ):
        raise FailedPreconditionError(
            f"{path}: the fit-time margin must be a finite number >= 1, got {str(margin)[:20]!r}; "
            "the bundle was altered or corrupted"
        )
    surrogate = Surrogate.from_dict(data["surrogate"])
    sized = SIZE_INPUT in surrogate.feature_names and size_source(index.feature_names) is not None
    n_inputs = len(index.feature_names) + int(sized) + len(load_configspace(space))
    if len(surrogate.feature_names) != n_inputs:
        raise FailedPreconditionError(
            f"{path}: the surrogate takes {len(surrogate.feature_names)} inputs, the features "
            f"and space give {n_inputs}"
        )
    try:
        rules = _set_rules(data["training"])
        _full_size_rules(data["training"])
        task_scores = _unpacked(data.get("task_scores"))
    except ValueError as exc:
        raise FailedPreconditionError(f"{path}: {exc}; retrain it or upgrade warmstart") from None
    try:
        probes = _probes(data["training"])
    except ValueError as exc:
        raise FailedPreconditionError(
            f"{path}: {exc}; the bundle was altered or corrupted"
        ) from None
    names = probe_input_names(len(probes)) if probes else ()
    if names and tuple(index.feature_names[-len(names) :]) != names:
        raise FailedPreconditionError(
            f"{path}: it has {len(probes)} probes but its inputs do not end with their "
            f"{len(names)} probe inputs; the bundle was altered or corrupted"
        )
    if not probes and any(split_rule(rule)[1] for rule in rules.values()):
        raise FailedPreconditionError(f"{path}: a set rule reads probes, but it has none")
    local = sorted({split_rule(rule)[0] for rule in rules.values()} & set(LOCAL_RULES))
    if local and not task_scores:
        raise FailedPreconditionError(
            f"{path} serves {', '.join(local)} but holds no measured task scores; retrain it"
        )
    installed = library_versions()
    for library in _MAJOR_MUST_MATCH:
        trained = str(data["libraries"].get(library, "?")).split(".")[0]
        here = installed[library].split(".")[0]
        if trained != here:
            raise FailedPreconditionError(
                f"{path} was trained with {library} {data['libraries'].get(library)}, this "
                f"machine has {installed[library]}: model files are not portable across major "
                "versions; retrain it"
            )
    return ModelBundle(
        version=data["version"],
        space=space,
        feature_version=data["feature_version"],
        surrogate=surrogate,
        index=index,
        portfolio=data["portfolio"],
        task_best=data["task_best"],
        training=data["training"],
        metrics=data["metrics"],
        libraries=data["libraries"],
        created_at=datetime.fromisoformat(data["created_at"]),
        task_scores=task_scores,
    )
