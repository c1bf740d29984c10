"""Suggestions for a table in one call, in process, without a server.

:func:`suggest` is for people who only want the configs: it computes the
table's meta-features, asks the shipped model bundle of the search space (the
knowledge base's ``models/<space>.wsb``) for ``k`` configs, and returns each
with what the learner makes of it: the model's own keyword arguments (for
LightGBM, LightGBM's names and values, ``limit_depth=False`` read as
``max_depth=-1``) and a ready scikit-learn estimator. FLAML's
``suggest_hyperparams`` is the habit it matches::

    import warmstart

    best = warmstart.suggest(X, y, space="lightgbm", k=5)[0]
    best.params                    # {'n_estimators': 641, 'max_depth': -1, ...}
    model = best.estimator().fit(X, y)

The translation from config to estimator is the learner's own
(:mod:`warmstart.benchmarks.learners`), so these are the estimators the
knowledge base was measured with: preprocessing (encoding of categorical
columns, imputation or scaling as the model needs) followed by the model.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.recommend import Recommender
from warmstart.metamodel.types import ConfigValue, Observation, SuggestionOrigin, TaskType
from warmstart.service.probing import probe_features

if TYPE_CHECKING:
    from warmstart.metamodel.bundle import ModelBundle

__all__ = ["LocalSuggestion", "local_recommender", "suggest"]


@dataclass(frozen=True)
class LocalSuggestion:
    """One suggested config for a table, with the learner's reading of it.

    Attributes:
        config: The config in the search space: ``{name: value}`` of the active
            parameters (what an optimizer seeded with it would use).
        params: The model's own keyword arguments for this config, as the learner
            sets them: the tuned ones under the library's names with derived
            parameters resolved (LightGBM: ``max_depth=-1`` when ``limit_depth``
            is off, ``reg_alpha=0.0`` when ``use_reg_alpha`` is off), plus the
            fixed ones the learner sets (seed, threads, verbosity).
            ``estimator_class(**params)`` is the model of :meth:`estimator`
            without its preprocessing.
        estimator_class: The model's class, e.g. ``lightgbm.LGBMClassifier``.
        predicted_score: The normalised score the model expects (1 = the best
            config seen on a training task).
        uncertainty: Standard deviation of that prediction over the ensemble.
        predicted_fit_seconds: Predicted fit time on this table, in seconds.
        origin: Where the config came from (portfolio, neighbour, model, ...).
        space: The search space's name, e.g. ``"lightgbm"``.
        task_type: The task type the estimator is built for.
        seed: The random seed in :attr:`params` and the default of :meth:`estimator`.
    """

    config: Mapping[str, ConfigValue]
    params: Mapping[str, Any]
    estimator_class: type
    predicted_score: float
    uncertainty: float
    predicted_fit_seconds: float
    origin: SuggestionOrigin
    space: str
    task_type: TaskType
    seed: int = 0
    n_threads: int = field(default=1, repr=False)

    def estimator(self, seed: int | None = None, n_threads: int | None = None) -> Any:
        """Build the unfitted scikit-learn estimator of this config.

        Args:
            seed: Random seed of the model (default: :attr:`seed`).
            n_threads: Threads the model may use (default: the ``n_threads`` given
                to :func:`suggest`).

        Returns:
            A new unfitted :class:`sklearn.pipeline.Pipeline` (preprocessing, then
            the model in the step named ``"model"``) that accepts a DataFrame with
            numeric and categorical columns, missing values included.
        """
        from warmstart.benchmarks.learners import get_learner

        return get_learner(self.space).make_estimator(
            self.config,
            self.task_type,
            seed=self.seed if seed is None else seed,
            n_threads=self.n_threads if n_threads is None else n_threads,
        )


def suggest(
    X: Any,
    y: Any,
    space: str = "lightgbm",
    k: int = 5,
    *,
    task_type: TaskType | str | None = None,
    observations: Iterable[Observation | tuple[Mapping[str, ConfigValue], float]] = (),
    max_fit_seconds: float | None = None,
    seed: int = 0,
    n_threads: int = 1,
    kb_dir: Path | str | None = None,
    probes: bool = True,
) -> list[LocalSuggestion]:
    """Suggest ``k`` configs of a learner for a table, in process, from the shipped model.

    Args:
        X: The feature table: a pandas DataFrame (numeric and categorical columns,
            missing values allowed) or a 2-D array.
        y: The target, one value per row of ``X``, none missing.
        space: The search space, i.e. the learner: ``"lightgbm"``, ``"svm"``,
            ``"knn"``, ... (one per bundle in the knowledge base's ``models/``).
        k: How many configs, best first.
        task_type: ``"binary"``, ``"multiclass"``, ``"regression"`` (or
            ``"classification"``); default: inferred from ``y`` as the CLI does
            (a numeric target with many distinct values is a regression).
        observations: Configs already evaluated on this table with their scores
            (higher is better), as :class:`~warmstart.metamodel.types.Observation`
            or ``(config, score)`` pairs: none is suggested again and the answer
            takes them into account.
        max_fit_seconds: Only configs predicted to fit within this many seconds (the
            prediction times the fit-time model's error margin, `fit_time.margin`).
        seed: Random seed set in each suggestion's params and estimator.
        n_threads: Threads each estimator may use.
        kb_dir: The knowledge base folder holding ``models/<space>.wsb``
            (default: the one shipped with warmstart).
        probes: Where the space's model reads learner probes, train them on a
            1,000-row sample of the table first (a few seconds on one core) and pass
            their scores on; False: answer from the meta-features alone.

    Returns:
        ``k`` suggestions, best first (fewer only if the constraints leave fewer).

    Raises:
        InvalidRequestError: An unknown space (the known ones are named), an empty
            table, ``y`` of another length than ``X``, a missing target value, a
            target of fewer than two values, or a task type the learner does not
            support.
        FailedPreconditionError: The bundle does not fit this warmstart (another
            meta-feature version or space definition).
    """
    import pandas as pd

    from warmstart.benchmarks.learners import get_learner
    from warmstart.benchmarks.tasks import build_task_data
    from warmstart.metamodel.features import compute_meta_features

    frame, target = _as_table(X, y, pd)
    data = build_task_data(frame, target, name="table", source="local", task_type=task_type)
    task = data.task
    bundle, recommender = _local_model(space, kb_dir)
    learner = get_learner(space)
    if task.task_type not in learner.task_types:
        allowed = ", ".join(sorted(t.value for t in learner.task_types))
        raise InvalidRequestError(
            f"space {space!r} does not support {task.task_type.value!r} tasks; it supports: "
            f"{allowed}"
        )
    features = compute_meta_features(frame, target, task.task_type)
    if probes:
        features |= probe_features(data, bundle)
    answer = recommender.suggest(
        features,
        k,
        max_fit_seconds=max_fit_seconds,
        observations=[_observation(item) for item in observations],
    )
    out: list[LocalSuggestion] = []
    for s in answer.suggestions:
        model = learner.make_estimator(s.config, task.task_type, seed, n_threads)[-1]
        out.append(
            LocalSuggestion(
                config=dict(s.config),
                params=_own_params(model, learner.search_space()),
                estimator_class=type(model),
                predicted_score=s.predicted_score,
                uncertainty=s.uncertainty,
                predicted_fit_seconds=s.predicted_fit_seconds,
                origin=s.origin,
                space=space,
                task_type=task.task_type,
                seed=seed,
                n_threads=n_threads,
            )
        )
    return out


def local_recommender(space: str, kb_dir: Path | str | None = None) -> Recommender:
    """The recommender of a space's shipped bundle, loaded once per process.

    Args:
        space: The search space's name, e.g. ``"lightgbm"``.
        kb_dir: The knowledge base folder (default: the one shipped with warmstart).

    Raises:
        InvalidRequestError: No bundle for that space; the available ones are named.
        FailedPreconditionError: The bundle does not fit this warmstart.
    """
    return _local_model(space, kb_dir)[1]


def _local_model(space: str, kb_dir: Path | str | None) -> tuple[ModelBundle, Recommender]:
    """The space's shipped bundle and its recommender (see :func:`local_recommender`)."""
    from warmstart.benchmarks.kb import KB_MODELS, default_kb_dir

    root = Path(kb_dir) if kb_dir is not None else default_kb_dir()
    bundles = {p.stem: p for p in (root / KB_MODELS).glob("*.wsb") if p.is_file()}
    if space not in bundles:
        available = sorted(bundles)
        shown = ", ".join(available) if available else "none"
        raise InvalidRequestError(
            f"no model for space {space!r} in {root / KB_MODELS}; available: {shown}"
        )
    return _load_model(bundles[space].resolve(), space)


@functools.lru_cache(maxsize=16)
def _load_model(path: Path, space: str) -> tuple[ModelBundle, Recommender]:
    # Loading a bundle and building its recommender takes seconds: once per process.
    from warmstart.benchmarks.learners import get_learner
    from warmstart.metamodel.bundle import load_bundle
    from warmstart.metamodel.features import FEATURE_VERSION
    from warmstart.metamodel.spaces import make_search_space

    space_id = make_search_space(space, get_learner(space).search_space()).space_id
    bundle = load_bundle(path, feature_version=FEATURE_VERSION, spaces={space: space_id})
    return bundle, bundle.recommender()


def _as_table(X: Any, y: Any, pd: Any) -> tuple[Any, Any]:
    """``X`` as a DataFrame and ``y`` as a Series, with the input errors named."""
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        try:
            frame = pd.DataFrame(X)
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(
                f"X must be a 2-D table, got {type(X).__name__}: {exc}"
            ) from None
        if frame.ndim != 2:
            raise InvalidRequestError("X must be a 2-D table of rows and columns")
        frame.columns = [f"x{i}" for i in range(frame.shape[1])]
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidRequestError(
            f"X is empty ({frame.shape[0]} rows, {frame.shape[1]} columns): give at least one "
            "feature column and a few rows"
        )
    target = y.rename("target") if isinstance(y, pd.Series) else pd.Series(y, name="target")
    if target.ndim != 1:
        raise InvalidRequestError("y must be one-dimensional: one target value per row")
    if len(target) != len(frame):
        raise InvalidRequestError(
            f"y has {len(target)} values but X has {len(frame)} rows; give one target per row"
        )
    missing = target.isna().to_numpy()
    if missing.any():
        rows = [int(i) for i in missing.nonzero()[0][:5]]
        raise InvalidRequestError(
            f"y has {int(missing.sum())} missing values (rows {rows}"
            f"{', ...' if missing.sum() > 5 else ''}); drop those rows first"
        )
    return frame.reset_index(drop=True), target.reset_index(drop=True)


def _observation(item: object) -> Observation:
    if isinstance(item, Observation):
        return item
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Mapping):
        score = item[1]
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            return Observation(dict(item[0]), float(score))
    raise InvalidRequestError(
        f"an observation must be an Observation or a (config, score) pair, got {item!r}"
    )


def _own_params(model: Any, space: Any) -> dict[str, Any]:
    """The model's keyword arguments that the learner decides.

    Those named like a space parameter (tuned, including derived ones such as
    ``max_depth``) and those the learner sets away from the library's default
    (seed, threads, ...); the rest are the library's defaults, left out.
    """
    params: dict[str, Any] = model.get_params(deep=False)
    try:
        defaults: dict[str, Any] = type(model)().get_params(deep=False)
    except Exception:  # a model that cannot be built bare: keep every argument
        return params
    names = set(space.keys())
    return {
        name: value
        for name, value in params.items()
        if name in names or name not in defaults or not _same(value, defaults[name])
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # arrays and other values without a plain truth value
        return False
