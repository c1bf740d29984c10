"""``warmstart kb build | info``: rebuild the shipped knowledge base from the datasets; show it.

``kb build`` runs the plan (``kb/plan.toml``, see :mod:`warmstart.service.cli._kb_plan`)
step by step through the benchmark runner, as ``warmstart bench run`` does
(only what the database lacks is evaluated, so an interrupted build resumes),
computes the meta-features the database lacks, then exports the records and
meta-features, trains one bundle per space and writes ``provenance.json``.
Everything is first written to a hidden folder inside OUT and renamed into
place at the end, ``provenance.json`` last, so an interrupted build never
leaves a half-written file in OUT.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.table import Table

from warmstart.benchmarks.kb import (
    KB_FEATURES,
    KB_MODELS,
    KB_RECORDS,
    default_kb_dir,
    file_sha256,
)
from warmstart.benchmarks.runner import (
    parse_shard,
    resolve_learner,
    resolve_workers,
    run_spec,
    sigterm_as_interrupt,
)
from warmstart.benchmarks.tasks import Suite, load_suite, parse_suite_spec
from warmstart.metamodel.bundle import TrainSettings, train_bundle
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.spaces import make_search_space
from warmstart.metamodel.store import (
    RecordFilter,
    RecordStore,
    export_records,
    export_task_features,
)
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import RecordStatus, SearchSpace
from warmstart.metamodel.versions import installed_versions
from warmstart.service.cli._bench import EXIT_INTERRUPTED
from warmstart.service.cli._common import DbOption, console, err_console, handle_errors, open_store
from warmstart.service.cli._kb_plan import KbPlan, load_kb_plan
from warmstart.service.cli._model import _command, describe_suite_tasks
from warmstart.service.cli._run_display import RunDisplay

__all__ = ["PLAN_FILE", "PROVENANCE_FILE", "app", "build", "info", "read_records_columns"]

app = typer.Typer(
    help="The knowledge base (kb/): rebuild it from the datasets, or show what it holds.",
    no_args_is_help=True,
)

PLAN_FILE = "plan.toml"
PROVENANCE_FILE = "provenance.json"
PROVENANCE_FORMAT = 1
EXIT_CHANGED = 1

_MEMORY_LIMIT_MIB = 4096  # per evaluation, as `bench run` defaults to
_STAGE_PREFIX = ".kb-build-"
_LIBRARIES = ("lightgbm", "scikit-learn", "numpy", "pandas", "pyarrow", "ConfigSpace", "warmstart")


@dataclass(frozen=True)
class _SpaceCounts:
    """What the database holds of one space of the plan."""

    space: SearchSpace
    task_ids: frozenset[str]
    records: int
    by_status: dict[str, int]


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _plan_suite(suite: str, plan: KbPlan) -> Suite:
    kind, _ = parse_suite_spec(suite)
    if kind != plan.suite:
        raise InvalidRequestError(
            f"--suite {suite!r} is a {kind!r} suite, but the plan {plan.path} is for "
            f"{plan.suite!r}: give --suite {plan.suite}:..."
        )
    return load_suite(suite)


def _only(plan: KbPlan, learners: str | None) -> frozenset[str] | None:
    if learners is None:
        return None
    names = _csv(learners)
    if not names:
        raise InvalidRequestError("--learners names no learner")
    unknown = [name for name in names if name not in plan.learners]
    if unknown:
        raise InvalidRequestError(
            f"--learners: {unknown[0]!r} is not a learner of the plan {plan.path}; "
            f"its learners: {', '.join(plan.learners)}"
        )
    return frozenset(names)


def _out_dir(out: Path | None) -> Path:
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


def _run_steps(
    store: RecordStore,
    plan: KbPlan,
    suite: str,
    only: frozenset[str] | None,
    workers: int,
    dask: str | None,
    shard: tuple[int, int] | None = None,
) -> int:
    """Run the plan's steps in order (the ``shard`` of each step's tasks only, if given);
    return the new records, or raise on an interrupt."""
    stored = 0
    for index, step in enumerate(plan.steps):
        chosen = tuple(n for n in step.learners if only is None or n in only)
        console.print(f"\nsteps[{index}] of {len(plan.steps)}: {step.describe()}", markup=False)
        if not chosen:
            console.print("skipped: none of its learners is in --learners")
            continue
        if chosen != step.learners:
            console.print(f"only {', '.join(chosen)} (--learners)")
        if shard is not None:
            console.print(f"only part {shard[0]} of {shard[1]} of its tasks (--shard)")
        with RunDisplay() as display:
            summary = run_spec(
                store,
                step.spec(suite, chosen, shard),
                workers=workers,
                dask=dask,
                time_limit=step.time_limit,
                memory_limit=_MEMORY_LIMIT_MIB,
                observer=display,
            )
        stored += summary.stored
        if summary.interrupted:
            console.print(f"interrupted in steps[{index}]: {summary.stored} evaluations saved")
            raise KeyboardInterrupt
    return stored


def _space_of(name: str) -> SearchSpace:
    learner = resolve_learner(name)
    return make_search_space(learner.name, learner.search_space())


def _held(store: RecordStore, plan: KbPlan) -> dict[str, _SpaceCounts]:
    """The plan's spaces that have records, with their counts."""
    held: dict[str, _SpaceCounts] = {}
    for name in plan.learners:
        space = _space_of(name)
        keys = store.record_keys(RecordFilter(space_id=space.space_id))
        if not keys:
            continue
        by_status = {
            status.value: store.count_records(RecordFilter(space_id=space.space_id, status=status))
            for status in RecordStatus
        }
        held[name] = _SpaceCounts(space, frozenset(k[0] for k in keys), len(keys), by_status)
    return held


def _describe_missing(store: RecordStore, suite: Suite, task_ids: set[str]) -> None:
    """Compute the meta-features of tasks with records that lack them, from the suite."""
    lacking = task_ids - set(store.list_task_features(FEATURE_VERSION))
    if lacking:
        # A suite stores its task `t` as `{suite.name}/t`.
        prefix = f"{suite.name}/"
        listed = set(suite.task_names())
        names = [
            t.name.removeprefix(prefix)
            for t in store.list_tasks()
            if t.task_id in lacking
            and t.name.startswith(prefix)
            and t.name.removeprefix(prefix) in listed
        ]
        computed = describe_suite_tasks(store, suite, names)
        console.print(f"meta-features {FEATURE_VERSION}: {computed} tasks described")
        lacking -= set(store.list_task_features(FEATURE_VERSION))
    if lacking:
        err_console.print(
            f"warning: {len(lacking)} tasks with records have no meta-features {FEATURE_VERSION} "
            "and are not in the suite: the features file leaves them out, training skips them",
            markup=False,
        )


def _shown_path(path: Path, target: Path) -> str:
    """A path for provenance: relative to the knowledge base when inside it (plan.toml)."""
    try:
        return str(path.resolve().relative_to(target.resolve()))
    except ValueError:
        return str(path)


def _libraries() -> dict[str, str | None]:
    return {"python": platform.python_version(), **installed_versions(_LIBRARIES)}


def _machine() -> dict[str, Any]:
    """The CPU and the SIMD code paths numpy and torch chose on it.

    Scores of regression tasks are continuous in the predictions, so rounding shows in
    them; the rounding of numpy's and torch's kernels depends on the code path each picks
    for the CPU, and a fit that stops at an iteration cap or trains for many epochs can
    turn it into visible differences. A rebuild on another machine is compared knowing
    this (``warmstart kb compare``).
    """
    cpu = None
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "architecture": platform.machine(),
        "cpu": cpu or platform.processor() or None,
        "cpus": os.cpu_count(),
        "numpy_simd": None,
        "torch_cpu_capability": None,
    }
    with contextlib.suppress(ImportError, AttributeError):  # numpy's own, not public API
        umath = importlib.import_module("numpy._core._multiarray_umath")
        found = umath.__cpu_features__
        info["numpy_simd"] = [name for name in umath.__cpu_dispatch__ if found.get(name)]
    with contextlib.suppress(ImportError, AttributeError, RuntimeError):
        torch = importlib.import_module("torch")
        info["torch_cpu_capability"] = str(torch.backends.cpu.get_cpu_capability())
    return info


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _write_outputs(
    store: RecordStore,
    target: Path,
    held: dict[str, _SpaceCounts],
    params: SurrogateParams,
    provenance: dict[str, Any],
) -> None:
    """Export, train and describe into a hidden folder of ``target``, then rename into place."""
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=target))
    try:
        space_ids = tuple(c.space.space_id for c in held.values())
        task_ids = set[str]().union(*(c.task_ids for c in held.values()))
        with console.status("exporting records..."):
            n_records = export_records(store, stage / KB_RECORDS, RecordFilter(space_ids=space_ids))
        n_features = export_task_features(
            store, stage / KB_FEATURES, FEATURE_VERSION, task_ids=task_ids
        )
        console.print(
            f"\nexported {n_records} records of {len(held)} spaces and the meta-features of "
            f"{n_features} tasks"
        )
        spaces: dict[str, Any] = {}
        settings = TrainSettings(surrogate=params)
        for name, counts in held.items():
            entry: dict[str, Any] = {
                "space_id": counts.space.space_id,
                "tasks": len(counts.task_ids),
                "records": counts.records,
                **counts.by_status,
            }
            with console.status(f"training {name}..."):
                try:
                    bundle = train_bundle(store, name, FEATURE_VERSION, settings)
                except FailedPreconditionError as exc:
                    err_console.print(f"warning: no model of {name}: {exc}", markup=False)
                    entry["bundle"] = None
                    spaces[name] = entry
                    continue
            relative = f"{KB_MODELS}/{name}.wsb"
            bundle.save(stage / relative)
            entry["bundle"] = {
                "file": relative,
                "version": bundle.version,
                "training": bundle.training,
            }
            spaces[name] = entry
            console.print(
                f"trained {bundle.version} on {bundle.training['records']} records of "
                f"{bundle.training['tasks']} tasks"
            )
        relatives = [KB_RECORDS, KB_FEATURES]
        relatives += [s["bundle"]["file"] for s in spaces.values() if s["bundle"]]
        files = {
            rel: {"sha256": file_sha256(stage / rel), "bytes": (stage / rel).stat().st_size}
            for rel in relatives
        }
        provenance |= {"finished_at": _utc_now(), "spaces": spaces, "files": files}
        _write_json(stage / PROVENANCE_FILE, provenance)
        # Each rename is atomic; provenance.json goes last, so it never names a file
        # that is not in place yet.
        for rel in [*relatives, PROVENANCE_FILE]:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, target / rel)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not any(target.iterdir()):
            target.rmdir()  # a build that failed leaves no trace


@app.command()
@handle_errors
def build(
    suite: Annotated[
        str,
        typer.Option(
            help="The plan's suite with its path, e.g. pmlb:../shared/datasets/pmlb.",
            show_default=False,
        ),
    ],
    plan: Annotated[
        Path | None,
        typer.Option(help="Plan file (default: kb/plan.toml).", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write (default: kb/ of the source tree).", show_default=False),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: CPU count).")
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address, or local:N.", show_default=False),
    ] = None,
    learners: Annotated[
        str | None,
        typer.Option(
            help="Evaluate only these of the plan's learners (comma-separated); the outputs "
            "still cover every space of the plan with records.",
            show_default=False,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Evaluate only part I of N of each step's tasks (I/N, e.g. 2/4: contiguous "
            "parts in suite order), so that N runs, here or on other machines, cover the plan "
            "between them; the outputs cover what the database holds.",
            show_default=False,
        ),
    ] = None,
    no_bench: Annotated[
        bool,
        typer.Option(
            "--no-bench",
            help="Evaluate nothing: export, describe and train from what the database holds.",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Training seed of the bundles.")] = 0,
    db: DbOption = None,
) -> None:
    """Rebuild the knowledge base from the datasets: run the plan, export, train, record how.

    Each step of the plan runs as `warmstart bench run` would (only what the
    database lacks), then the records and meta-features of the plan's spaces are
    exported, one bundle per space is trained, and provenance.json records the
    command, versions, counts and file hashes. SIGTERM or Ctrl-C stops it with
    exit code 130, keeping finished evaluations and leaving OUT untouched; run
    the same command again to resume.
    """
    started = _utc_now()
    command = _command()
    kb_plan = load_kb_plan(plan if plan is not None else default_kb_dir() / PLAN_FILE)
    loaded = _plan_suite(suite, kb_plan)
    only = _only(kb_plan, learners)
    part = parse_shard(shard) if shard is not None else None
    if part is not None and no_bench:
        raise InvalidRequestError("--shard chooses tasks to evaluate; --no-bench evaluates none")
    n_workers = resolve_workers(workers)
    params = SurrogateParams(seed=seed)
    params.check()
    target = _out_dir(out)
    provenance: dict[str, Any] = {
        "format": PROVENANCE_FORMAT,
        "command": command,
        "started_at": started,
        "finished_at": None,
        "libraries": _libraries(),
        "machine": _machine(),
        "suite": suite,
        "plan": {
            "file": _shown_path(kb_plan.path, target),
            "sha256": file_sha256(kb_plan.path),
            **kb_plan.to_dict(),
        },
        "learners": sorted(only) if only is not None else None,
        "shard": f"{part[0]}/{part[1]}" if part is not None else None,
        "bench": not no_bench,
        "seed": seed,
    }
    with sigterm_as_interrupt(), open_store(db, create=not no_bench) as store:
        try:
            if not no_bench:
                new = _run_steps(store, kb_plan, suite, only, n_workers, dask, part)
                console.print(f"\nevaluations done: {new} new records in this build")
            held = _held(store, kb_plan)
            if not held:
                raise FailedPreconditionError(
                    f"the database {store.url} holds no records of the plan's spaces "
                    f"({', '.join(kb_plan.learners)})"
                    + ("; run without --no-bench to evaluate them" if no_bench else "")
                )
            _describe_missing(store, loaded, set[str]().union(*(c.task_ids for c in held.values())))
            _write_outputs(store, target, held, params, provenance)
        except KeyboardInterrupt:
            err_console.print(
                "interrupted: finished evaluations are saved and nothing in "
                f"{target} was changed; run the same command again to resume",
                markup=False,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    console.print(f"knowledge base written to {target} ({PROVENANCE_FILE}: `warmstart kb info`)")


def read_records_columns(path: Path, columns: list[str]) -> pa.Table:
    """Some columns of a knowledge base's records file; a clear error if it is not one."""
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowInvalid, KeyError) as exc:
        raise FailedPreconditionError(f"{path} is not a readable records file: {exc}") from None


def _records_counts(path: Path) -> dict[str, dict[str, int]]:
    """Per space: tasks, records, failed and timeout counts, read from a records file."""
    table = read_records_columns(path, ["space_name", "task_id", "status"])
    spaces = table.column("space_name").to_pylist()
    tasks = table.column("task_id").to_pylist()
    statuses = table.column("status").to_pylist()
    counted: dict[str, Counter[str]] = {}
    task_sets: dict[str, set[str]] = {}
    for space, task, status in zip(spaces, tasks, statuses, strict=True):
        counted.setdefault(space, Counter())[status] += 1
        task_sets.setdefault(space, set()).add(task)
    return {
        space: {
            "tasks": len(task_sets[space]),
            "records": sum(counts.values()),
            **{s.value: counts[s.value] for s in RecordStatus},
        }
        for space, counts in sorted(counted.items())
    }


def _spaces_table(spaces: dict[str, dict[str, Any]]) -> Table:
    table = Table("space", "tasks", "records", "ok", "failed", "timeout", "model version")
    for name, entry in spaces.items():
        bundle = entry.get("bundle")
        table.add_row(
            name,
            *(f"{entry.get(key, 0):,}" for key in ("tasks", "records", "ok", "failed", "timeout")),
            bundle["version"] if isinstance(bundle, dict) else "-",
        )
    return table


def _kb_files(root: Path) -> list[str]:
    names = [KB_RECORDS, KB_FEATURES]
    names += sorted(f"{KB_MODELS}/{p.name}" for p in (root / KB_MODELS).glob("*.wsb"))
    return [name for name in names if (root / name).is_file()]


def _read_provenance(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FailedPreconditionError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise FailedPreconditionError(f"{path} is not a provenance file of `warmstart kb build`")
    return data


@app.command()
@handle_errors
def info(
    kb: Annotated[
        Path | None,
        typer.Option(help="Knowledge-base folder (default: kb/ of the source tree)."),
    ] = None,
) -> None:
    """Show what a knowledge base holds, and whether its files still match provenance.json.

    Exit code 1 if a file listed in provenance.json is missing or has changed.
    """
    root = kb if kb is not None else default_kb_dir()
    if not root.is_dir():
        raise FailedPreconditionError(f"no knowledge base folder at {root}")
    provenance_path = root / PROVENANCE_FILE
    if not provenance_path.is_file():
        if not (root / KB_RECORDS).is_file():
            raise FailedPreconditionError(f"{root} has neither {PROVENANCE_FILE} nor {KB_RECORDS}")
        console.print(f"knowledge base {root}: no {PROVENANCE_FILE}; counts from {KB_RECORDS}")
        console.print(_spaces_table(_records_counts(root / KB_RECORDS)))
        files = Table("file", "bytes", "sha256")
        for name in _kb_files(root):
            files.add_row(name, f"{(root / name).stat().st_size:,}", file_sha256(root / name))
        console.print(files)
        console.print(f"no {PROVENANCE_FILE}: nothing to check the hashes against")
        return
    provenance = _read_provenance(provenance_path)
    console.print(
        f"knowledge base {root}: built {provenance.get('started_at')} to "
        f"{provenance.get('finished_at')} by\n  {provenance.get('command')}",
        markup=False,
    )
    console.print(_spaces_table(provenance.get("spaces") or {}))
    listed: dict[str, Any] = provenance["files"]
    files = Table("file", "bytes", "sha256", "check")
    bad: list[str] = []
    for name in sorted(set(listed) | set(_kb_files(root))):
        path = root / name
        expected = listed.get(name) or {}
        if not path.is_file():
            files.add_row(name, "-", str(expected.get("sha256", "-")), "missing")
            bad.append(name)
            continue
        digest = file_sha256(path)
        if name not in listed:
            check = "not in provenance"
        elif digest == expected.get("sha256") and path.stat().st_size == expected.get("bytes"):
            check = "ok"
        else:
            check = "changed"
            bad.append(name)
        files.add_row(name, f"{path.stat().st_size:,}", digest, check)
    console.print(files)
    if bad:
        err_console.print(
            f"{len(bad)} of {len(listed)} files do not match {PROVENANCE_FILE}: {', '.join(bad)}",
            markup=False,
        )
        raise typer.Exit(EXIT_CHANGED)
    console.print(f"all {len(listed)} files match {PROVENANCE_FILE}")
