"""Plans: tasks × learners × configs × seeds, minus what the store already holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from warmstart.benchmarks.runner._jobs import Job, Protocol
from warmstart.benchmarks.runner._learners import resolve_learner
from warmstart.benchmarks.tasks import Suite, TaskInfo, load_suite
from warmstart.metamodel.errors import InvalidRequestError, NotFoundError
from warmstart.metamodel.features import FEATURE_VERSION, describe_task
from warmstart.metamodel.spaces import (
    LOCAL_SCALE,
    SamplerName,
    config_hash,
    make_search_space,
    sample_configs,
)
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import ConfigValue, SearchSpace, Task, TaskFeatures

__all__ = ["Plan", "PlanSpec", "build_plan", "parse_shard", "shard_bounds"]


@dataclass(frozen=True)
class PlanSpec:
    """What to evaluate.

    Attributes:
        suite: Suite spec, e.g. ``"pmlb:../shared/datasets/pmlb"``.
        learners: Learner names (or ``module:attribute`` paths).
        n_configs: Configs per learner, the library default included.
        sampler: ``"sobol"``, ``"random"``, ``"grid"`` or ``"local"`` (around the default).
        scale: The ``local`` sampler's half-width, a fraction of each parameter's range.
        seeds: Evaluation seeds; every config is evaluated once per seed.
        protocol: Cross-validation or hold-out, and the row cap.
        task_names: Only these tasks (default: all, in suite order).
        max_tasks: At most this many tasks (after the other filters).
        max_rows: Leave out tasks with more rows (when the suite knows sizes up front).
        min_rows: Leave out tasks with fewer rows (when the suite knows sizes up front):
            a step at a larger row cap spends its time where the cap changes something.
        config_seed: Seed of the config sampler: the same configs on every task.
        shard: ``(i, n)``: only the i-th (from 1) of n contiguous, nearly equal parts of
            the selected tasks, in suite order, so that n runs (on as many machines, or
            one after another) cover the plan between them (default: all of them).
    """

    suite: str
    learners: Sequence[str]
    n_configs: int = 16
    sampler: SamplerName = "sobol"
    scale: float = LOCAL_SCALE
    seeds: Sequence[int] = (0,)
    protocol: Protocol = field(default_factory=Protocol)
    task_names: Sequence[str] | None = None
    max_tasks: int | None = None
    max_rows: int | None = None
    min_rows: int | None = None
    config_seed: int = 0
    shard: tuple[int, int] | None = None

    def check(self) -> None:
        """Raise :class:`InvalidRequestError` for values out of range."""
        if not self.learners:
            raise InvalidRequestError("name at least one learner")
        if self.n_configs < 1:
            raise InvalidRequestError(f"configs per learner must be >= 1, got {self.n_configs}")
        if not self.seeds:
            raise InvalidRequestError("give at least one seed")
        if self.sampler == "local" and not 0.0 < self.scale <= 1.0:
            raise InvalidRequestError(
                f"the local sampler's scale must be in (0, 1], got {self.scale!r}"
            )
        if self.protocol.holdout is not None and not 0.0 < self.protocol.holdout < 1.0:
            raise InvalidRequestError(
                f"the hold-out fraction must be in (0, 1), got {self.protocol.holdout}"
            )
        if self.protocol.holdout is None and self.protocol.folds < 2:
            raise InvalidRequestError(f"folds must be >= 2, got {self.protocol.folds}")
        if self.protocol.row_cap is not None and self.protocol.row_cap < 20:
            raise InvalidRequestError(f"the row cap must be >= 20, got {self.protocol.row_cap}")
        if self.max_tasks is not None and self.max_tasks < 1:
            raise InvalidRequestError(f"--tasks must be >= 1, got {self.max_tasks}")
        if self.shard is not None:
            index, count = self.shard
            if not 1 <= index <= count:
                raise InvalidRequestError(
                    f"--shard must be I/N with 1 <= I <= N, got {index}/{count}"
                )


@dataclass
class Plan:
    """Jobs still to run, and what the plan covers in all."""

    spec: PlanSpec
    tasks: list[Task]
    spaces: dict[str, SearchSpace]
    configs: dict[str, list[dict[str, ConfigValue]]]
    jobs: list[Job]
    total: int
    already_stored: int

    def learner_of(self, space_id: str) -> str:
        """The learner name of a space in this plan."""
        return next(name for name, space in self.spaces.items() if space.space_id == space_id)


def _select(suite: Suite, spec: PlanSpec) -> list[TaskInfo]:
    infos = suite.list_tasks()
    if spec.task_names:
        known = {i.name: i for i in infos}
        unknown = [n for n in spec.task_names if n not in known]
        if unknown:
            sample = ", ".join(list(known)[:5])
            raise NotFoundError(
                f"suite {spec.suite!r} has no task(s) {', '.join(unknown)}; e.g. {sample}"
            )
        infos = [known[n] for n in spec.task_names]
    if spec.max_rows is not None:
        infos = [i for i in infos if i.n_rows is None or i.n_rows <= spec.max_rows]
    if spec.min_rows is not None:
        infos = [i for i in infos if i.n_rows is None or i.n_rows >= spec.min_rows]
    if spec.max_tasks is not None:
        infos = infos[: spec.max_tasks]
    if not infos:
        raise InvalidRequestError(f"no task of suite {spec.suite!r} matches the filters")
    if spec.shard is not None:
        infos = infos[slice(*shard_bounds(len(infos), *spec.shard))]
    return infos


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)``.

    Raises:
        InvalidRequestError: Not two integers ``1 <= I <= N``.
    """
    index, slash, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = (0, 0)
    if not slash or not 1 <= shard[0] <= shard[1]:
        raise InvalidRequestError(
            f"--shard must be I/N with whole numbers 1 <= I <= N (e.g. 2/4), got {text!r}"
        )
    return shard


def shard_bounds(n_tasks: int, index: int, count: int) -> tuple[int, int]:
    """Where the ``index``-th (from 1) of ``count`` contiguous parts of ``n_tasks`` tasks
    starts and stops; the parts cover every task once and differ in size by one at most
    (a part may be empty when there are fewer tasks than parts)."""
    return (index - 1) * n_tasks // count, index * n_tasks // count


def build_plan(
    spec: PlanSpec,
    store: RecordStore,
    *,
    on_task: Callable[[str], None] | None = None,
    meta_features: bool = True,
) -> Plan:
    """Load the selected tasks, register them and the learners' spaces, list missing jobs.

    Args:
        spec: What to evaluate.
        store: Where records live; tasks and spaces are stored here.
        on_task: Called with each task name as it is loaded (for progress).
        meta_features: Compute and store each task's meta-features of the
            current version when they are not stored yet (the surrogate needs them).

    Returns:
        The plan; its jobs are the (task, learner, config, seed) combinations
        with no record yet, grouped by task so workers reuse loaded data.
    """
    spec.check()
    learners = [resolve_learner(name) for name in spec.learners]
    spec_of = {learner.name: name for learner, name in zip(learners, spec.learners, strict=True)}
    if len(spec_of) != len(learners):
        raise InvalidRequestError(f"a learner is named twice in {', '.join(spec.learners)}")
    suite = load_suite(spec.suite)
    infos = _select(suite, spec)
    spaces: dict[str, SearchSpace] = {}
    configs: dict[str, list[dict[str, ConfigValue]]] = {}
    for learner in learners:
        space_cs = learner.search_space()
        spaces[learner.name] = make_search_space(learner.name, space_cs)
        sampled = sample_configs(
            space_cs, spec.n_configs, method=spec.sampler, seed=spec.config_seed, scale=spec.scale
        )
        default = learner.default_config()
        if default not in sampled:  # the library default is always part of the plan
            sampled = [default, *sampled[: spec.n_configs - 1]]
        configs[learner.name] = sampled
    tasks: list[Task] = []
    described: list[TaskFeatures] = []
    have = set(store.list_task_features(FEATURE_VERSION)) if meta_features else set()
    for info in infos:
        if on_task is not None:
            on_task(info.name)
        data = suite.load(info.name)
        tasks.append(data.task)
        if meta_features and data.task.task_id not in have:
            described.append(describe_task(data.task.task_id, data.X, data.y, data.task.task_type))
            have.add(data.task.task_id)
    # Byte-identical datasets share a task id. One whose bytes are stored under another
    # name (its twin, loaded by an earlier run or another --shard) is that stored task:
    # its records are the twin's, so it is planned under the stored name, never renamed.
    stored = store.get_tasks(task.task_id for task in tasks)
    tasks = [_stored_twin(task, stored.get(task.task_id)) for task in tasks]
    store.add_all(tasks=tasks, spaces=list(spaces.values()))
    store.put_task_features(described)
    done: set[tuple[str, str, str, int, float]] = set()
    for space in spaces.values():
        done |= store.record_keys(RecordFilter(space_id=space.space_id))
    jobs: list[Job] = []
    planned: set[tuple[str, str, str, int, float]] = set()
    for info, task in zip(infos, tasks, strict=True):
        for learner in learners:
            if task.task_type not in learner.task_types:
                continue
            space = spaces[learner.name]
            for config in configs[learner.name]:
                digest = config_hash(config)
                for seed in spec.seeds:
                    job = Job(
                        suite=spec.suite,
                        task_name=info.name,
                        task_id=task.task_id,
                        learner=spec_of[learner.name],
                        space_id=space.space_id,
                        config=config,
                        config_hash=digest,
                        seed=seed,
                        protocol=spec.protocol,
                        fidelity=rows_fraction(task.n_rows, spec.protocol.row_cap),
                    )
                    # Byte-identical datasets share a task id: plan them once.
                    if job.key in planned:
                        continue
                    planned.add(job.key)
                    if job.key not in done:
                        jobs.append(job)
    total = len(planned)
    return Plan(
        spec=spec,
        tasks=tasks,
        spaces=spaces,
        configs=configs,
        jobs=jobs,
        total=total,
        already_stored=total - len(jobs),
    )


def rows_fraction(n_rows: int, row_cap: int | None) -> float:
    """The fidelity of an evaluation: the fraction of the task's rows it uses.

    A record evaluated on a 2,000-row sample of a 20,000-row task has fidelity
    0.1, so evaluations of one config at several row caps are distinct records,
    and the surrogate knows how many rows a score was measured on (fidelity x the
    task's rows).
    """
    if row_cap is None or n_rows <= row_cap:
        return 1.0
    return row_cap / n_rows


def _stored_twin(task: Task, stored: Task | None) -> Task:
    """The stored task of ``task``'s id where only the name differs, else ``task`` itself
    (a stored task of another type is left for the store to refuse)."""
    if stored is not None and stored.task_type is task.task_type:
        return stored
    return task
