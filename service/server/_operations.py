"""What each RPC does, on domain objects only: the one core call behind each servicer method.

No gRPC here: requests and answers are :mod:`warmstart.service.wire.api` dataclasses
and failures are :class:`~warmstart.metamodel.errors.WarmstartError` subclasses, which
the servicer maps to status codes through one table. Every method blocks (the
store, LightGBM, meta-features): the servicer runs them in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from warmstart.metamodel.errors import (
    InvalidRequestError,
    NotFoundError,
    WarmstartError,
    answer_or_raise,
    shown,
)
from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION, compute_meta_features
from warmstart.metamodel.recommend import MAX_K, SuggestQuery
from warmstart.metamodel.spaces import (
    config_hash,
    default_config,
    load_configspace,
    validate_config,
)
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import (
    ConfigValue,
    EvaluationRecord,
    RecordSource,
    RecordStatus,
    SearchSpace,
    TaskFeatures,
    TaskType,
)
from warmstart.service.probing import (
    probe_features,
    store_probe_scores,
    stored_probe_features,
)
from warmstart.service.server._dataset import read_upload
from warmstart.service.server._edge import MAX_ID_CHARS
from warmstart.service.server._models import ModelRegistry, ServedModel
from warmstart.service.server._tasks import MAX_OBSERVATIONS, TaskBook, checked_observations
from warmstart.service.wire.api import (
    DescribeUpload,
    ModelSummary,
    ReloadOutcome,
    ReportedResult,
    ReportSummary,
    SpaceInfo,
    SuggestAnswer,
    SuggestRequest,
    TaskDescription,
)
from warmstart.service.wire.tasks import (
    RegisteredTask,
    TaskDetail,
    TaskListing,
    TaskRegistration,
)

__all__ = ["MAX_RESULT_ID_LENGTH", "Operations"]

MAX_RESULT_ID_LENGTH = MAX_ID_CHARS
"""Longest client-supplied result id (the store's ``external_id`` column)."""
_SHOWN_PROBLEMS = 10


def _space_info(space: SearchSpace) -> SpaceInfo:
    return SpaceInfo(
        space.space_id, space.name, space.definition, default_config(load_configspace(space))
    )


def _bad_number(value: float | None, *, low: float | None = None, strict: bool = False) -> bool:
    if value is None:
        return False
    if not math.isfinite(value):
        return True
    if low is None:
        return False
    return value <= low if strict else value < low


class Operations:
    """The service's operations over injected models and store.

    Args:
        models: The served models.
        store: The records store.
        max_results: Most results one report may carry.
    """

    def __init__(self, models: ModelRegistry, store: RecordStore, *, max_results: int) -> None:
        self.models = models
        self.store = store
        self.max_results = max_results
        self.tasks = TaskBook(models, store)
        self._stored_spaces: set[str] = set()  # served spaces known to be in the store

    # -- SuggestConfigs ------------------------------------------------------------------------

    def suggest(self, request: SuggestRequest) -> SuggestAnswer:
        """Suggest ``request.k`` configs for a task.

        Raises:
            FailedPreconditionError: No model is loaded, or no candidate meets the constraints.
            NotFoundError: No model serves the space, or the task id is unknown.
            InvalidRequestError: Bad k, meta-features, version, constraint or excluded config.
        """
        return answer_or_raise(self.suggest_many([request])[0])

    def suggest_many(
        self, requests: Sequence[SuggestRequest]
    ) -> list[SuggestAnswer | WarmstartError]:
        """:meth:`suggest` of several requests: for each, its answer or the error it raises.

        The requests for one model are answered in one pass
        (:meth:`~warmstart.metamodel.recommend.Recommender.suggest_many`); each answer is the one
        it gets alone, and a bad request does not affect the others.
        """
        answers: list[SuggestAnswer | WarmstartError | None] = [None] * len(requests)
        by_model: dict[int, tuple[ServedModel, list[int], list[SuggestQuery]]] = {}
        for position, request in enumerate(requests):
            try:
                model = self.models.get(request.space)
                query = self._query(request, model)
            except WarmstartError as exc:
                answers[position] = exc
                continue
            _, positions, queries = by_model.setdefault(id(model), (model, [], []))
            positions.append(position)
            queries.append(query)
        for model, positions, queries in by_model.values():
            found = model.recommender.suggest_many(queries)
            for position, result in zip(positions, found, strict=True):
                answers[position] = (
                    result
                    if isinstance(result, WarmstartError)
                    else SuggestAnswer(
                        tuple(result.suggestions),
                        model.version,
                        result.out_of_distribution,
                        model.bundle.space.space_id,
                        result.observations,
                    )
                )
        return [a for a in answers if a is not None]

    def _query(self, request: SuggestRequest, model: ServedModel) -> SuggestQuery:
        """The recommender's query for a request: the task's features, the checked excludes,
        and the observations: the task's stored results in the space (with a task id), then
        those the request gives."""
        features = self._task_features(request, model)
        space = model.configspace
        exclude: list[dict[str, ConfigValue]] = []
        for i, config in enumerate(request.exclude):
            try:
                exclude.append(validate_config(space, config))
            except InvalidRequestError as exc:
                raise InvalidRequestError(f"exclude[{i}]: {exc}") from None
        observations = checked_observations(model, request.observations)
        if request.task_id is not None:
            room = MAX_OBSERVATIONS - len(observations)
            observations = self.tasks.observations(request.task_id, model, room) + observations
        return SuggestQuery(
            features,
            request.k,
            request.max_fit_seconds,
            tuple(exclude),
            request.train_rows,
            tuple(observations),
        )

    def _task_features(self, request: SuggestRequest, model: ServedModel) -> Mapping[str, float]:
        wanted = model.bundle.feature_version
        if request.task_id is not None:
            try:
                self.store.get_task(request.task_id)
            except NotFoundError:
                raise NotFoundError(
                    f"unknown task_id {shown(request.task_id)}: the service has no such task; "
                    "give the task's meta-features instead (DescribeTask computes them)"
                ) from None
            try:
                stored = self.store.get_task_features(request.task_id, wanted)
            except NotFoundError:
                raise NotFoundError(
                    f"task {shown(request.task_id)} has no stored meta-features of version "
                    f"{wanted!r} (the model's); give its meta-features instead"
                ) from None
            return stored.as_dict() | (
                stored_probe_features(self.store, request.task_id, model.bundle.space.name)
                if model.bundle.reads_probes
                else {}
            )
        if request.feature_version != wanted:
            raise InvalidRequestError(
                f"feature_version {shown(request.feature_version)} does not match the model's "
                f"{wanted!r}: compute the meta-features with DescribeTask, or see GetModelInfo"
            )
        return dict(request.features or {})

    # -- ReportResults -------------------------------------------------------------------------

    def report(self, results: Sequence[ReportedResult]) -> ReportSummary:
        """Validate a whole batch, then store it in one transaction: all of it or nothing.

        Each result becomes a record with ``source=client`` and its id as
        ``external_id``. An id stored before with the same payload counts as
        ``already``; a new id whose evaluation is stored under another id is a
        duplicate (not stored, listed).

        Raises:
            InvalidRequestError: Any result is invalid (up to ten problems are listed).
            NotFoundError: A result names a task or space the service does not know.
            ConflictError: An id is stored with another payload (nothing is stored).
        """
        self.check_batch_size(len(results))
        invalid: list[str] = []
        missing: list[str] = []
        spaces: dict[str, SearchSpace | None] = {}
        first_of_id: dict[str, int] = {}
        first_of_key: dict[tuple[str, str, str, int, float], int] = {}
        records: list[EvaluationRecord] = []
        for i, result in enumerate(results):
            where = f"results[{i}]"
            problems = self._result_problems(result)
            if result.result_id in first_of_id:
                problems.append(
                    f"id {shown(result.result_id)} appears more than once in this batch "
                    f"(first at results[{first_of_id[result.result_id]}]); ids must be unique"
                )
            first_of_id.setdefault(result.result_id, i)
            if result.space not in spaces:
                spaces[result.space] = self._report_space(result.space)
            space = spaces[result.space]
            if space is None:
                missing.append(f"{where}: unknown space {shown(result.space)}")
            if problems or space is None:
                invalid.extend(f"{where}: {p}" for p in problems)
                continue
            try:
                config = validate_config(load_configspace(space), result.config)
            except InvalidRequestError as exc:
                invalid.append(f"{where}: {exc}")
                continue
            record = EvaluationRecord(
                task_id=result.task_id,
                space_id=space.space_id,
                config=config,
                config_hash=config_hash(config),
                score=result.score,
                status=result.status or RecordStatus.OK,
                seed=result.seed,
                fidelity=1.0 if result.fidelity is None else result.fidelity,
                metrics=result.metrics,
                fit_seconds=result.fit_seconds,
                error=result.error or None,
                source=RecordSource.CLIENT,
                external_id=result.result_id,
            )
            invalid.extend(f"{where}: {p}" for p in record.problems())
            if record.key in first_of_key:
                invalid.append(
                    f"{where}: the same evaluation (task, space, config, seed, fidelity) as "
                    f"results[{first_of_key[record.key]}]; give repeats different seeds"
                )
            first_of_key.setdefault(record.key, i)
            records.append(record)
        if invalid:
            raise InvalidRequestError(_listed("invalid results", invalid))
        missing.extend(self._missing_tasks(results))
        if missing:
            raise NotFoundError(_listed("unknown task or space", missing))
        outcome = self.store.add_reported(records)
        return ReportSummary(outcome.stored, outcome.already, outcome.duplicates)

    def check_batch_size(self, n_results: int) -> None:
        """Refuse a report of no results or of more than ``max_results``.

        Raises:
            InvalidRequestError: ``n_results`` is 0 or above the limit.
        """
        if not n_results:
            raise InvalidRequestError(f"no results: send 1 to {self.max_results} per call")
        if n_results > self.max_results:
            raise InvalidRequestError(
                f"{n_results} results in one call; at most {self.max_results} are allowed: "
                "split the batch"
            )

    @staticmethod
    def _result_problems(result: ReportedResult) -> list[str]:
        out: list[str] = []
        if not result.result_id:
            out.append("id is empty; every result needs a unique client-supplied id")
        elif len(result.result_id) > MAX_RESULT_ID_LENGTH:
            out.append(f"id is longer than {MAX_RESULT_ID_LENGTH} characters")
        if not result.task_id:
            out.append("task_id is empty")
        if result.status is None:
            out.append("status is unspecified; use OK, FAILED or TIMEOUT")
        elif result.status is RecordStatus.OK and result.score is None:
            out.append("status OK needs a score (the primary score, higher is better)")
        elif result.status is not RecordStatus.OK and result.score is not None:
            out.append(
                f"status {result.status.name} must not carry a score (got {result.score}); "
                "leave score unset"
            )
        if _bad_number(result.score):
            out.append(f"score must be a finite number, got {result.score}")
        if _bad_number(result.fit_seconds, low=0.0):
            out.append(f"fit_seconds must be a finite number >= 0, got {result.fit_seconds}")
        if _bad_number(result.fidelity, low=0.0, strict=True):
            out.append(f"fidelity must be a finite number > 0, got {result.fidelity}")
        bad = sorted(k for k, v in result.metrics.items() if not k or not math.isfinite(v))
        if bad:
            out.append(f"metrics must have names and finite values; leave out {bad}")
        return out

    def _report_space(self, space: str) -> SearchSpace | None:
        """The space results name: a served model's (stored on first use, so a server on a
        fresh database takes results for what it serves), else the store's."""
        for model in self.models.models.values():
            served = model.bundle.space
            if space in (served.name, served.space_id):
                if served.space_id not in self._stored_spaces:
                    self.store.put_space(served)  # idempotent
                    self._stored_spaces.add(served.space_id)
                return served
        return self._find_space(space)

    def _find_space(self, space: str) -> SearchSpace | None:
        if not space:
            return None
        try:
            return self.store.get_space(space)
        except NotFoundError:
            pass
        try:
            return self.store.find_space(space)
        except NotFoundError:
            return None

    def _missing_tasks(self, results: Sequence[ReportedResult]) -> list[str]:
        out: list[str] = []
        for task_id in sorted({r.task_id for r in results}):
            try:
                self.store.get_task(task_id)
            except NotFoundError:
                out.append(f"unknown task_id {shown(task_id)}")
        return out

    # -- DescribeTask --------------------------------------------------------------------------

    def describe(self, upload: DescribeUpload, *, store: bool = False) -> TaskDescription:
        """Compute the meta-features of an uploaded dataset; with ``store``, also store the
        task under its content id (named ``upload.name``) and say its id.

        With ``upload.probe_space``, the probes of the model serving that space are run
        on the data and their scores added to the features (``probe:<config hash>``);
        with ``store`` they are stored with the task, for requests by its id.

        Raises:
            InvalidRequestError: Malformed data, no target column, or data the
                meta-features cannot read.
            NotFoundError: No model serves ``upload.probe_space``.
        """
        X, y, task_type = read_upload(upload)
        model = self.models.get(upload.probe_space) if upload.probe_space else None
        values = compute_meta_features(X, y, task_type)
        features = TaskFeatures(
            task_id="",
            version=FEATURE_VERSION,
            names=FEATURE_NAMES,
            values=tuple(values[name] for name in FEATURE_NAMES),
        )
        probes: dict[str, float] = {}
        if model is not None and model.bundle.reads_probes:
            from warmstart.benchmarks.tasks import build_task_data

            data = build_task_data(X, y, name="upload", source="client", task_type=task_type)
            probes = probe_features(data, model.bundle)
        described = TaskFeatures(
            "",
            FEATURE_VERSION,
            features.names + tuple(probes),
            features.values + tuple(probes.values()),
        )
        n_rows, n_columns = int(X.shape[0]), int(X.shape[1])
        if not store:
            return TaskDescription(described, task_type, n_rows, n_columns)
        n_classes = None if task_type is TaskType.REGRESSION else int(y.nunique())
        registered = self.tasks.store_task(
            upload.name, task_type, n_rows, n_columns, features, n_classes
        )
        if model is not None:
            store_probe_scores(self.store, registered.task.task_id, model.bundle.space.name, probes)
        return TaskDescription(
            described,
            task_type,
            n_rows,
            n_columns,
            registered.task.task_id,
            registered.created,
        )

    # -- RegisterTask, ListTasks, GetTask ------------------------------------------------------

    def register_task(self, registration: TaskRegistration) -> RegisteredTask:
        """Store a task whose meta-features the client computed; a no-op if it is stored.

        Raises:
            InvalidRequestError: An unspecified type, a bad count, or meta-features not of
                a version and names the service knows.
        """
        return self.tasks.register(registration)

    def list_tasks(self, page_size: int, page_token: str, name_prefix: str) -> TaskListing:
        """One page of the tasks the service knows, by name then id.

        Raises:
            InvalidRequestError: A page size out of range or a token not given out here.
        """
        return self.tasks.page(page_size, page_token, name_prefix)

    def get_task(self, task_id: str) -> TaskDetail:
        """A task with its stored meta-features and its results per space.

        Raises:
            NotFoundError: No such task.
        """
        return self.tasks.detail(task_id)

    # -- spaces, model info, reload ------------------------------------------------------------

    def list_spaces(self) -> list[SpaceInfo]:
        """Every stored space version, plus those of served models not in the store."""
        spaces = {s.space_id: s for s in self.store.list_spaces()}
        for model in self.models.models.values():
            spaces.setdefault(model.bundle.space.space_id, model.bundle.space)
        ordered = sorted(spaces.values(), key=lambda s: (s.name, s.space_id))
        return [_space_info(s) for s in ordered]

    def get_space(self, space: str) -> SpaceInfo:
        """A space by name or id: the served model's version first, else the store's newest.

        Raises:
            NotFoundError: Neither a model nor the store knows it.
        """
        if not space:
            raise InvalidRequestError("space is empty: give a space name or id")
        for model in self.models.models.values():
            if space in (model.bundle.space.name, model.bundle.space.space_id):
                return _space_info(model.bundle.space)
        found = self._find_space(space)
        if found is None:
            names = sorted({s.name for s in self.list_spaces()})
            raise NotFoundError(
                f"no search space named or with id {shown(space)}; known spaces: "
                f"{', '.join(names) or 'none'}"
            )
        return _space_info(found)

    def model_info(self, space: str) -> ModelSummary:
        """What the model of one space (or, with ``space`` empty, every served model) is.

        Raises:
            FailedPreconditionError: No model is loaded.
            NotFoundError: No model serves the space.
        """
        if space:
            chosen = [self.models.get(space)]
        else:
            models = self.models.require()
            chosen = [models[name] for name in sorted(models)]
        bundles = [m.bundle for m in chosen]
        one = len(bundles) == 1
        feature_versions = sorted({b.feature_version for b in bundles})
        names = {b.feature_names for b in bundles}
        return ModelSummary(
            model_version=",".join(b.version for b in bundles),
            feature_version=",".join(feature_versions),
            feature_names=bundles[0].feature_names if len(names) == 1 else (),
            spaces=tuple(_space_info(b.space) for b in bundles),
            metrics={
                (k if one else f"{b.space.name}/{k}"): float(v)
                for b in bundles
                for k, v in b.metrics.items()
            },
            created_at=max(b.created_at for b in bundles),
            training_data_hash=",".join(str(b.training.get("data_hash", "")) for b in bundles),
            max_k=MAX_K,
            probes=tuple(bundles[0].probes) if one and bundles[0].reads_probes else (),
        )

    def reload(self, path: str) -> ReloadOutcome:
        """Load bundles (from ``path``, else the configured location) and swap them in.

        All or nothing: if any bundle found does not load, the served models stay.

        Raises:
            InvalidRequestError: No bundle at ``path``.
            FailedPreconditionError: A bundle found does not load (the message names
                each file and why), or no model location is configured.
        """
        previous = self.models.versions()
        if path:
            self.models.load_path(Path(path))
        else:
            self.models.reload()
        return ReloadOutcome(self.models.versions(), previous)


def _listed(what: str, problems: list[str]) -> str:
    extra = len(problems) - _SHOWN_PROBLEMS
    more = f" (and {extra} more)" if extra > 0 else ""
    return f"{what}: " + "; ".join(problems[:_SHOWN_PROBLEMS]) + more
