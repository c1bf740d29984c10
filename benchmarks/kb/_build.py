"""Building a knowledge base from a plan: evaluate, describe, export, train, record how.

:class:`KbBuild` checks a :class:`KbBuildRequest` (before any database is
opened), then :meth:`KbBuild.run` runs the plan's steps through the benchmark
runner (only what the database lacks is evaluated, so an interrupted build
resumes), computes the meta-features the database lacks, measures the learner
probes it lacks (the plan's ``[probes]``, :mod:`warmstart.benchmarks.kb._probes`), and
writes the
records, the meta-features, one bundle per space and ``provenance.json``
(:mod:`warmstart.benchmarks.kb._write`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warmstart.benchmarks.kb._layout import default_kb_dir, file_sha256
from warmstart.benchmarks.kb._plan import KbPlan, KbStep
from warmstart.benchmarks.kb._probes import measure_probes
from warmstart.benchmarks.kb._provenance import PROVENANCE_FORMAT, libraries, machine, utc_now
from warmstart.benchmarks.kb._write import SpaceBuilt, SpaceCounts, held_spaces, write_outputs
from warmstart.benchmarks.runner import RunObserver, RunSummary, run_spec
from warmstart.benchmarks.task_features import describe_suite_tasks
from warmstart.benchmarks.tasks import Suite, load_suite, parse_suite_spec
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.surrogate import SurrogateParams

__all__ = [
    "BuildObserver",
    "KbBuild",
    "KbBuildRequest",
    "KbBuildResult",
    "StepRun",
    "resolve_out_dir",
]

MEMORY_LIMIT_MIB = 4096  # per evaluation, as `bench run` defaults to


def resolve_out_dir(out: Path | None) -> Path:
    """The folder a build writes: ``out``, else ``kb/`` of the source tree.

    Raises:
        InvalidRequestError: ``out`` is a file, or it is None and there is no
            source tree's ``kb/`` (an install from a wheel).
    """
    if out is None:
        out = default_kb_dir()
        if not out.is_dir():
            raise InvalidRequestError(
                f"no kb/ folder of a source tree at {out} (this warmstart is installed from a "
                "wheel): give --out DIR"
            )
    if out.exists() and not out.is_dir():
        raise InvalidRequestError(f"--out {out} is a file, not a folder")
    return out


@dataclass(frozen=True)
class KbBuildRequest:
    """What to build, and how.

    Attributes:
        plan: The plan (:func:`load_kb_plan`).
        suite: The plan's suite with its path, e.g. ``pmlb:../shared/datasets/pmlb``.
        suites: The plan's further suites (its ``[suites]`` table) with their paths,
            by name, e.g. ``{"pmlb-large": "pmlb:../shared/datasets/pmlb-large"}``;
            needed for the steps that run on them, unless ``bench`` is False.
        out: The folder to write (:func:`resolve_out_dir`).
        command: The command line recorded in provenance.
        learners: Evaluate only these of the plan's learners (None: all); the
            outputs still cover every space of the plan with records.
        shard: Evaluate only part I of N of each step's tasks (contiguous parts in
            suite order).
        bench: False: evaluate nothing, build from what the database holds.
        seed: Training seed of the bundles.
        workers: Local worker processes (without ``dask``).
        dask: A Dask scheduler address, or ``local:N``.
    """

    plan: KbPlan
    suite: str
    out: Path
    command: str
    learners: tuple[str, ...] | None = None
    shard: tuple[int, int] | None = None
    bench: bool = True
    seed: int = 0
    workers: int = 1
    dask: str | None = None
    suites: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRun:
    """One step of the plan in this build: the learners it ran (empty: skipped)."""

    index: int
    learners: tuple[str, ...]
    summary: RunSummary | None


@dataclass(frozen=True)
class KbBuildResult:
    """What a build did and wrote.

    ``steps`` is empty with ``bench`` False; ``new_records`` counts the records
    its evaluations stored; ``described`` the tasks whose meta-features it
    computed; ``probed`` the tasks whose probe scores it measured; ``spaces`` what it
    wrote per space; ``provenance`` the file as written.
    """

    out: Path
    steps: tuple[StepRun, ...]
    new_records: int
    described: int
    records: int
    features: int
    spaces: dict[str, SpaceBuilt]
    provenance: dict[str, Any] = field(repr=False)
    probed: int = 0


class BuildObserver(RunObserver):
    """Told of a build's progress; every method does nothing unless overridden.

    Each step's run reports through the :class:`RunObserver` methods.
    """

    def step(self, index: int, plan: KbPlan, learners: tuple[str, ...]) -> None:
        """Step ``index`` of the plan starts, for ``learners`` (empty: skipped)."""

    def evaluated(self, new_records: int) -> None:
        """Every step ran; ``new_records`` were stored."""

    def busy(self, what: str) -> None:
        """A longer stage starts: describing a task, exporting, training a space."""

    def described(self, computed: int) -> None:
        """Meta-features were computed for ``computed`` tasks that lacked them."""

    def probed(self, measured: int) -> None:
        """Probe scores were measured for ``measured`` tasks (per space) that lacked them."""

    def exported(self, records: int, spaces: int, features: int) -> None:
        """The records of ``spaces`` spaces and the meta-features of ``features`` tasks."""

    def trained(self, space: SpaceBuilt) -> None:
        """A space's bundle was trained, or could not be (``space.bundle_version`` None)."""

    def warning(self, message: str) -> None:
        """Something the build went past but the user should know."""


class KbBuild:
    """A checked build request, ready to run on a store."""

    def __init__(self, request: KbBuildRequest) -> None:
        """Check the request and load its suite; nothing is opened or written.

        Raises:
            InvalidRequestError: A suite is not of the plan's kind for it, is not
                in the plan, is missing for a step to evaluate or cannot be
                loaded, ``learners`` names a learner the plan lacks or none, a
                shard is asked without evaluating, or the seed is out of range.
        """
        self.request = request
        plan = request.plan
        kind, _ = parse_suite_spec(request.suite)
        if kind != plan.suite:
            raise InvalidRequestError(
                f"--suite {request.suite!r} is a {kind!r} suite, but the plan {plan.path} is "
                f"for {plan.suite!r}: give --suite {plan.suite}:..."
            )
        self.suite: Suite = load_suite(request.suite)
        self.suites: dict[str, Suite] = {}
        for name, spec in request.suites.items():
            if name not in plan.suites:
                named = ", ".join(plan.suites) or "none"
                raise InvalidRequestError(
                    f"--suite {name}=...: the plan {plan.path} has no suite {name!r} "
                    f"(its [suites]: {named})"
                )
            kind, _ = parse_suite_spec(spec)
            if kind != plan.suites[name]:
                raise InvalidRequestError(
                    f"--suite {name}={spec}: a {kind!r} suite, but the plan's suite {name!r} "
                    f"is {plan.suites[name]!r}: give --suite {name}={plan.suites[name]}:..."
                )
            self.suites[name] = load_suite(spec)
        if request.learners is not None:
            if not request.learners:
                raise InvalidRequestError("--learners names no learner")
            unknown = [name for name in request.learners if name not in plan.learners]
            if unknown:
                raise InvalidRequestError(
                    f"--learners: {unknown[0]!r} is not a learner of the plan {plan.path}; "
                    f"its learners: {', '.join(plan.learners)}"
                )
        if request.shard is not None and not request.bench:
            raise InvalidRequestError(
                "--shard chooses tasks to evaluate; --no-bench evaluates none"
            )
        if request.bench:
            for index, step in enumerate(plan.steps):
                runs = request.learners is None or set(step.learners) & set(request.learners)
                if runs and step.suite is not None and step.suite not in request.suites:
                    kind = plan.suites[step.suite]
                    raise InvalidRequestError(
                        f"steps[{index}] of the plan {plan.path} runs on suite {step.suite!r}: "
                        f"give its path too, --suite {step.suite}={kind}:PATH"
                    )
        self.params = SurrogateParams(seed=request.seed)
        self.params.check()

    def run(self, store: RecordStore, observer: BuildObserver | None = None) -> KbBuildResult:
        """Evaluate (unless ``bench`` is False), describe, then write the outputs.

        Everything is first written to a hidden folder inside ``out`` and renamed
        into place at the end, ``provenance.json`` last, so an interrupted build
        never leaves a half-written file there.

        Raises:
            KeyboardInterrupt: Ctrl-C (or SIGTERM, under
                :func:`~warmstart.benchmarks.runner.sigterm_as_interrupt`) stopped
                it; finished evaluations are saved and ``out`` is unchanged.
            FailedPreconditionError: The database holds no records of the plan's spaces.
            InvalidRequestError: A step's spec cannot be planned.
        """
        observer = observer or BuildObserver()
        request = self.request
        provenance = self._provenance()
        steps: tuple[StepRun, ...] = ()
        new = 0
        if request.bench:
            steps = self._run_steps(store, observer)
            new = sum(s.summary.stored for s in steps if s.summary is not None)
            observer.evaluated(new)
        held = held_spaces(store, request.plan.learners)
        if not held:
            raise FailedPreconditionError(
                f"the database {store.url} holds no records of the plan's spaces "
                f"({', '.join(request.plan.learners)})"
                + ("" if request.bench else "; run without --no-bench to evaluate them")
            )
        described = self._describe_missing(store, held, observer)
        probed = self._probe_missing(store, held, observer)
        written = write_outputs(
            store, request.out, held, self.params, provenance, observer, request.plan
        )
        return KbBuildResult(
            out=request.out,
            steps=steps,
            new_records=new,
            described=described,
            records=written.records,
            features=written.features,
            spaces=written.spaces,
            provenance=written.provenance,
            probed=probed,
        )

    def _provenance(self) -> dict[str, Any]:
        request = self.request
        plan = request.plan
        try:
            shown = str(plan.path.resolve().relative_to(request.out.resolve()))
        except ValueError:  # a plan outside the knowledge base: its path as given
            shown = str(plan.path)
        return {
            "format": PROVENANCE_FORMAT,
            "command": request.command,
            "started_at": utc_now(),
            "finished_at": None,
            "libraries": libraries(),
            "machine": machine(),
            "suite": request.suite,
            "suites": dict(request.suites),
            "plan": {"file": shown, "sha256": file_sha256(plan.path), **plan.to_dict()},
            "learners": sorted(request.learners) if request.learners is not None else None,
            "shard": f"{request.shard[0]}/{request.shard[1]}" if request.shard else None,
            "bench": request.bench,
            "seed": request.seed,
        }

    def _run_steps(self, store: RecordStore, observer: BuildObserver) -> tuple[StepRun, ...]:
        """Run the plan's steps in order; raise KeyboardInterrupt if one is interrupted."""
        request = self.request
        only = request.learners
        runs = []
        for index, step in enumerate(request.plan.steps):
            chosen = tuple(n for n in step.learners if only is None or n in only)
            observer.step(index, request.plan, chosen)
            if not chosen:
                runs.append(StepRun(index, chosen, None))
                continue
            summary = self._run_step(store, step, chosen, observer)
            runs.append(StepRun(index, chosen, summary))
            if summary.interrupted:
                raise KeyboardInterrupt
        return tuple(runs)

    def _run_step(
        self, store: RecordStore, step: KbStep, learners: tuple[str, ...], observer: RunObserver
    ) -> RunSummary:
        request = self.request
        suite = request.suite if step.suite is None else request.suites[step.suite]
        return run_spec(
            store,
            step.spec(suite, learners, request.shard),
            workers=request.workers,
            dask=request.dask,
            time_limit=step.time_limit,
            memory_limit=MEMORY_LIMIT_MIB,
            observer=observer,
        )

    def _probe_missing(
        self, store: RecordStore, held: dict[str, SpaceCounts], observer: BuildObserver
    ) -> int:
        """Measure the plan's probes on the tasks of its probed spaces that lack them."""
        plan = self.request.plan
        probed = [name for name in held if plan.probes_read(name)]
        if not probed:
            return 0
        if self.request.shard is not None:
            observer.warning(
                "probes are measured by the build that gathers the shards, not by a shard"
            )
            return 0
        suites = [(self.request.suite, self.suite)]
        suites += [(self.request.suites[n], s) for n, s in self.suites.items()]
        measured = 0
        for name in probed:
            counts = held[name]
            measured += measure_probes(
                store,
                counts.space,
                plan.probes.candidates if plan.probes else 0,
                suites,
                set(counts.task_ids),
                max(self.request.workers, 1),
                observer.busy,
            )
        observer.probed(measured)
        return measured

    def _describe_missing(
        self, store: RecordStore, held: dict[str, SpaceCounts], observer: BuildObserver
    ) -> int:
        """Compute the meta-features of tasks with records that lack them, from the suites."""
        task_ids = set[str]().union(*(c.task_ids for c in held.values()))
        lacking = task_ids - set(store.list_task_features(FEATURE_VERSION))
        computed = 0
        tasks = store.list_tasks() if lacking else []
        for suite in (self.suite, *self.suites.values()):
            if not lacking:
                break
            # A suite stores its task `t` as `{suite.name}/t`; suites of one kind share
            # the prefix, so each is asked for the lacking names it lists.
            prefix = f"{suite.name}/"
            listed = set(suite.task_names())
            names = [
                t.name.removeprefix(prefix)
                for t in tasks
                if t.task_id in lacking
                and t.name.startswith(prefix)
                and t.name.removeprefix(prefix) in listed
            ]
            if not names:
                continue
            observer.busy("computing meta-features...")
            computed += describe_suite_tasks(
                store, suite, names, lambda name: observer.busy(f"meta-features of {name}")
            )
            lacking -= set(store.list_task_features(FEATURE_VERSION))
        if tasks:  # some tasks lacked meta-features: report the count computed, 0 included
            observer.described(computed)
        if lacking:
            observer.warning(
                f"{len(lacking)} tasks with records have no meta-features {FEATURE_VERSION} "
                "and are not in the suites given: the features file leaves them out, training "
                "skips them"
            )
        return computed
