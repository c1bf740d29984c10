"""Optuna: a sampler that asks warmstart for every trial's config.

:class:`WarmstartSampler` drives a study instead of only seeding it: before each
trial it asks warmstart (a model bundle in process, or the service through a
:class:`~warmstart.service.client.WarmstartClient`) for the next config, giving
the study's finished trials as observations, so the answer reflects what was
seen and never repeats a tried config. The objective samples the space with
:func:`warmstart.service.seeding.suggest_from_space`, which suggests exactly
the config's active parameters::

    import optuna
    import warmstart
    from warmstart.seeding import WarmstartSampler, suggest_from_space

    bundle = warmstart.load_bundle("kb/models/lightgbm.wsb")
    sampler = WarmstartSampler(bundle, features=meta_features)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial):
        config = suggest_from_space(trial, sampler.space)
        ...

Parameters the objective suggests outside the warmstart space, parameters whose
distribution does not hold warmstart's value, and every parameter of a trial
after ``n_warmstart_trials`` go to the fallback sampler (Optuna's TPE by
default). Enqueued trials keep their fixed values and are not asked about.

Optuna is an optional dependency (the ``optimizers`` extra): this module imports
it, and :mod:`warmstart.service.seeding` imports this module only when
``WarmstartSampler`` is first used.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optuna
from ConfigSpace import ConfigurationSpace

from warmstart.metamodel.errors import InvalidRequestError, WarmstartError
from warmstart.metamodel.spaces import validate_config
from warmstart.metamodel.types import ConfigValue, Observation
from warmstart.service.seeding._configs import SpaceLike, as_configspace, prepare_configs

__all__ = ["SuggestFunction", "WarmstartSampler"]

MAX_WIRE_CONFIGS = 1000
"""The most excluded configs and inline observations one request to the service carries."""

SuggestFunction = Callable[
    [int, Sequence[Mapping[str, ConfigValue]], Sequence[Observation]],
    Sequence[Mapping[str, Any] | Any],
]
"""``(k, exclude, observations) -> configs``: how the sampler asks for configs."""


def _recommender_source(
    recommender: Any,
    features: Mapping[str, float],
    max_fit_seconds: float | None,
    train_rows: int | None,
) -> SuggestFunction:
    def ask(
        k: int, exclude: Sequence[Mapping[str, ConfigValue]], observations: Sequence[Observation]
    ) -> Sequence[Any]:
        answer = recommender.suggest(
            features,
            k,
            max_fit_seconds=max_fit_seconds,
            exclude=exclude,
            train_rows=train_rows,
            observations=observations,
        )
        return list(answer.suggestions)

    return ask


class _ServiceSource:
    """Asks the service; with a task id, reports every finished trial to it.

    With a task id and reporting on, the service reads the task's observations
    from its store, so none are sent inline (they would be counted twice); when
    a report fails (no write token, say), the sampler warns once and sends the
    observations inline from then on.
    """

    def __init__(
        self,
        client: Any,
        space_name: str,
        task: Mapping[str, float] | str,
        feature_version: str,
        max_fit_seconds: float | None,
        train_rows: int | None,
        report: bool,
    ) -> None:
        self.client = client
        self.space_name = space_name
        self.task = task
        self.feature_version = feature_version
        self.max_fit_seconds = max_fit_seconds
        self.train_rows = train_rows
        self.reporting = report and isinstance(task, str)

    def ask(
        self,
        k: int,
        exclude: Sequence[Mapping[str, ConfigValue]],
        observations: Sequence[Observation],
    ) -> Sequence[Any]:
        answer = self.client.suggest(
            self.task,
            self.space_name,
            k,
            feature_version=self.feature_version,
            max_fit_seconds=self.max_fit_seconds,
            exclude=list(exclude)[-MAX_WIRE_CONFIGS:],
            train_rows=self.train_rows,
            observations=[] if self.reporting else list(observations)[-MAX_WIRE_CONFIGS:],
        )
        return list(answer.suggestions)

    def report(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        config: Mapping[str, ConfigValue],
        state: optuna.trial.TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """Report a finished trial of the task (complete: its score; failed: failed)."""
        if not self.reporting or not isinstance(self.task, str):
            return
        from warmstart.metamodel.types import RecordStatus
        from warmstart.service.wire.api import ReportedResult

        if state == optuna.trial.TrialState.COMPLETE and values:
            maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
            score = float(values[0]) if maximize else -float(values[0])
            status, error = RecordStatus.OK, ""
        elif state == optuna.trial.TrialState.FAIL:
            score, status, error = None, RecordStatus.FAILED, "the Optuna trial failed"
        else:
            return  # pruned: not a finished evaluation
        started = trial.datetime_start.isoformat() if trial.datetime_start else ""
        result = ReportedResult(
            result_id=f"optuna:{study.study_name}:{trial.number}:{started}",
            task_id=self.task,
            space=self.space_name,
            config=dict(config),
            status=status,
            score=score,
            error=error,
        )
        try:
            self.client.report([result])
        except Exception as exc:  # the study goes on; the observations go inline
            warnings.warn(
                f"reporting trial {trial.number} to the service failed ({exc}); the "
                "observations are sent with each request from now on",
                stacklevel=2,
            )
            self.reporting = False


class _SamplerCore:
    """What the sampler decides, apart from Optuna's class: the config of each trial."""

    def __init__(
        self, space: ConfigurationSpace, ask: SuggestFunction, n_startup_configs: int
    ) -> None:
        self.space = space
        self.names = frozenset(space.keys())
        self.ask = ask
        self.n_startup_configs = n_startup_configs
        self.queue: list[dict[str, ConfigValue]] = []
        self.asked = 0
        self.configs: dict[int, dict[str, ConfigValue]] = {}
        self.lock = threading.Lock()
        self.exhausted = False

    def trial_config(self, trial: optuna.trial.FrozenTrial) -> dict[str, ConfigValue] | None:
        return self.configs.get(trial.number)

    def valid(self, params: Mapping[str, Any]) -> dict[str, ConfigValue] | None:
        config = {name: value for name, value in params.items() if name in self.names}
        try:
            return validate_config(self.space, config)
        except InvalidRequestError:
            return None  # a trial that stopped before suggesting every active parameter

    def next_config(
        self, trials: Sequence[optuna.trial.FrozenTrial], maximize: bool
    ) -> dict[str, ConfigValue] | None:
        tried: list[dict[str, ConfigValue]] = []
        observations: list[Observation] = []
        for trial in trials:
            config = self.valid(trial.params)
            if config is None:
                continue
            tried.append(config)
            if trial.state == optuna.trial.TrialState.COMPLETE and trial.value is not None:
                score = float(trial.value) if maximize else -float(trial.value)
                observations.append(Observation(config, score))
        seen = {_key(c) for c in tried} | {_key(c) for c in self.configs.values()}
        with self.lock:
            self.queue = [c for c in self.queue if _key(c) not in seen]
            if not self.queue and not self.exhausted:
                k = self.n_startup_configs if self.asked == 0 else 1
                exclude = tried + [c for c in self.configs.values() if _key(c) not in seen]
                try:
                    answer = self.ask(k, exclude, observations)
                except WarmstartError as exc:
                    # No candidate left (every one tried or constrained out): the
                    # fallback sampler carries on alone.
                    warnings.warn(
                        f"warmstart has no further config ({exc}); the fallback sampler takes over",
                        stacklevel=2,
                    )
                    self.exhausted = True
                    answer = []
                self.asked += 1
                fresh = [c for c in prepare_configs(answer, self.space) if _key(c) not in seen]
                self.queue.extend(fresh)
            return self.queue.pop(0) if self.queue else None


def _key(config: Mapping[str, ConfigValue]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in config.items()))


def _contains(distribution: Any, value: ConfigValue) -> bool:
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return any(type(c) is type(value) and c == value for c in distribution.choices)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return bool(distribution._contains(distribution.to_internal_repr(value)))


def _resolve_source(
    source: Any,
    *,
    features: Mapping[str, float] | None,
    task_id: str | None,
    space: SpaceLike | None,
    space_name: str | None,
    feature_version: str,
    max_fit_seconds: float | None,
    train_rows: int | None,
    report: bool,
) -> tuple[SuggestFunction, ConfigurationSpace, _ServiceSource | None]:
    """Tell the kind of source apart and check it has what it needs."""
    if callable(getattr(source, "recommender", None)):
        source = source.recommender()  # a model bundle
    if callable(getattr(source, "suggest_many", None)):  # a Recommender
        if features is None:
            raise InvalidRequestError(
                "a recommender or bundle needs the task's meta-features: "
                "features={name: value} (warmstart.metamodel.features.compute_meta_features)"
            )
        if task_id is not None:
            raise InvalidRequestError("task_id is for the service; in process give features")
        cs = as_configspace(space) if space is not None else source.space
        return _recommender_source(source, features, max_fit_seconds, train_rows), cs, None
    if callable(getattr(source, "suggest", None)) and callable(getattr(source, "report", None)):
        if space is None or not space_name:
            raise InvalidRequestError(
                "with a WarmstartClient give space= (the ConfigSpace space) and space_name= "
                "(its name on the service, e.g. 'lightgbm')"
            )
        if (features is None) == (task_id is None):
            raise InvalidRequestError(
                "with a WarmstartClient give exactly one of features= (meta-features) or "
                "task_id= (a task the service knows)"
            )
        task: Mapping[str, float] | str = task_id if task_id is not None else dict(features or {})
        service = _ServiceSource(
            source, space_name, task, feature_version, max_fit_seconds, train_rows, report
        )
        return service.ask, as_configspace(space), service
    raise InvalidRequestError(
        "source must be a warmstart Recommender, a ModelBundle or a WarmstartClient, "
        f"got {type(source).__name__}"
    )


class WarmstartSampler(optuna.samplers.BaseSampler):
    """An Optuna sampler whose every trial's config comes from warmstart.

    Args:
        source: Where the configs come from: a :class:`~warmstart.metamodel.recommend.Recommender`
            or a model bundle (in process), or a
            :class:`~warmstart.service.client.WarmstartClient` (the service).
        features: The task's meta-features ``{name: value}``; required in process,
            and one way of naming the task to the service.
        task_id: The id of a task the service knows (with a client, instead of
            ``features``).
        space: The search space (ConfigSpace or SearchSpace); required with a
            client, default the recommender's own.
        space_name: The space's name on the service (with a client).
        feature_version: The meta-features' version (with a client and ``features``).
        n_startup_configs: How many configs the first request asks for at once:
            warmstart's zero-shot answer, evaluated first and in order. After
            those, each trial gets one config asked for with every finished trial
            as an observation.
        n_warmstart_trials: After this many trials, the fallback sampler decides
            everything; None: warmstart decides every trial it can.
        fallback: The sampler of parameters outside the space and of trials
            warmstart does not decide (default ``optuna.samplers.TPESampler(seed=seed)``).
        max_fit_seconds: Only configs predicted to fit within this time.
        train_rows: Rows the configs will be trained on (default: the table's).
        seed: Seed of the default fallback sampler.
        report: With a client and a ``task_id``, report every finished trial to the
            service (complete: its score, negated when the study minimises;
            failed: as failed), which then reads the task's observations from
            its store; needs a client with a write token. False: send the
            observations with each request instead.

    A config is never given twice: every trial in the study (finished, failed,
    pruned or running) is excluded from the next request. When warmstart has no
    candidate left, the fallback takes over (with a warning). Scores are the
    study's values, negated for a study that minimises (warmstart treats higher
    as better). Multi-objective studies are refused.
    """

    def __init__(
        self,
        source: Any,
        *,
        features: Mapping[str, float] | None = None,
        task_id: str | None = None,
        space: SpaceLike | None = None,
        space_name: str | None = None,
        feature_version: str = "",
        n_startup_configs: int = 5,
        n_warmstart_trials: int | None = None,
        fallback: optuna.samplers.BaseSampler | None = None,
        max_fit_seconds: float | None = None,
        train_rows: int | None = None,
        seed: int | None = None,
        report: bool = True,
    ) -> None:
        if isinstance(n_startup_configs, bool) or not isinstance(n_startup_configs, int):
            raise InvalidRequestError(
                f"n_startup_configs must be an integer >= 1, got {n_startup_configs!r}"
            )
        if n_startup_configs < 1:
            raise InvalidRequestError(
                f"n_startup_configs must be an integer >= 1, got {n_startup_configs!r}"
            )
        if n_warmstart_trials is not None and (
            isinstance(n_warmstart_trials, bool)
            or not isinstance(n_warmstart_trials, int)
            or n_warmstart_trials < 0
        ):
            raise InvalidRequestError(
                f"n_warmstart_trials must be None or an integer >= 0, got {n_warmstart_trials!r}"
            )
        ask, cs, self._service = _resolve_source(
            source,
            features=features,
            task_id=task_id,
            space=space,
            space_name=space_name,
            feature_version=feature_version,
            max_fit_seconds=max_fit_seconds,
            train_rows=train_rows,
            report=report,
        )
        self._core = _SamplerCore(cs, ask, n_startup_configs)
        self._n_warmstart_trials = n_warmstart_trials
        self._fallback = fallback or optuna.samplers.TPESampler(seed=seed)

    @property
    def space(self) -> ConfigurationSpace:
        """The warmstart search space, for :func:`suggest_from_space` in the objective."""
        return self._core.space

    @property
    def fallback(self) -> optuna.samplers.BaseSampler:
        """The sampler of everything warmstart does not decide."""
        return self._fallback

    def trial_config(self, trial: optuna.trial.FrozenTrial) -> dict[str, ConfigValue] | None:
        """The config warmstart gave a running trial, or None if it gave none."""
        return self._core.trial_config(trial)

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Ask warmstart for this trial's config (unless enqueued or past the limit)."""
        self._raise_error_if_multi_objective(study)
        self._fallback.before_trial(study, trial)
        if "fixed_params" in trial.system_attrs:
            return  # an enqueued trial replays its own values
        if self._n_warmstart_trials is not None and trial.number >= self._n_warmstart_trials:
            return
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        trials = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        config = self._core.next_config(trials, maximize)
        if config is not None:
            self._core.configs[trial.number] = config

    def infer_relative_search_space(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial
    ) -> dict[str, optuna.distributions.BaseDistribution]:
        """Nothing relative for warmstart's trials; the fallback's for the others."""
        if trial.number in self._core.configs:
            return {}
        result: dict[str, optuna.distributions.BaseDistribution] = (
            self._fallback.infer_relative_search_space(study, trial)
        )
        return result

    def sample_relative(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        search_space: dict[str, optuna.distributions.BaseDistribution],
    ) -> dict[str, Any]:
        """The fallback's relative sample for trials warmstart does not decide."""
        if trial.number in self._core.configs or not search_space:
            return {}
        result: dict[str, Any] = self._fallback.sample_relative(study, trial, search_space)
        return result

    def sample_independent(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        param_name: str,
        param_distribution: optuna.distributions.BaseDistribution,
    ) -> Any:
        """Warmstart's value of the parameter when it has one that fits; else the fallback's."""
        config = self._core.configs.get(trial.number)
        if config is not None and param_name in config:
            value = config[param_name]
            if _contains(param_distribution, value):
                return value
            warnings.warn(
                f"parameter {param_name!r}: warmstart's value {value!r} is outside the "
                f"objective's distribution {param_distribution}; sampled by the fallback",
                stacklevel=2,
            )
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        state: optuna.trial.TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """Report the trial to the service (with a task id) and let the fallback see it.

        In process, and with meta-features instead of a task id, nothing is sent:
        the next request reads the finished trials from the study.
        """
        self._fallback.after_trial(study, trial, state, values)
        self._core.configs.pop(trial.number, None)
        if self._service is not None:
            config = self._core.valid(trial.params)
            if config is not None:
                self._service.report(study, trial, config, state, values)

    def reseed_rng(self) -> None:
        """Reseed the fallback (warmstart's answers are deterministic)."""
        self._fallback.reseed_rng()
