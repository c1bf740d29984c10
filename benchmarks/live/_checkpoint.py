"""A live evaluation's checkpoint: each held-out task's result, kept as soon as it lands.

A live evaluation can take hours; with a checkpoint folder an interrupted run
(Ctrl-C, a killed session, a crash in one task) keeps every finished task, and
running the same evaluation again with the same folder trains only the rest.
The folder holds:

- ``checkpoint.json``: the format and the fingerprint of everything that
  determines the results (:func:`live_fingerprint`); a run whose fingerprint
  differs is refused, naming what differs;
- ``tasks/TASK.json``: one per finished held-out task, its
  :class:`~warmstart.benchmarks.live.LiveTaskResult` (or the note saying why it
  was skipped);
- ``folds/FOLD.json``: how a fold's bundle chose its set rules (the report says
  it), so a fold whose tasks are all done needs no bundle trained again.

Every file is written to a temporary file in the same folder, flushed to disk
and renamed over its name (``os.replace``), so a kill leaves the old file or the
new one, never half of one. A file that cannot be read is refused, naming it:
it is never trained over or ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from warmstart.benchmarks.live._types import LiveSettings, LiveTaskResult
from warmstart.metamodel.bundle import library_versions
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.types import EvaluationRecord, SearchSpace, Task, TaskFeatures
from warmstart.metamodel.versions import installed_versions

__all__ = [
    "CHECKPOINT_FORMAT",
    "LiveCheckpoint",
    "live_fingerprint",
    "records_hash",
]

CHECKPOINT_FORMAT = 1
"""Bump when the checkpoint's layout changes; a folder of another format is refused."""

MANIFEST = "checkpoint.json"
_TASKS = "tasks"
_FOLDS = "folds"
_KIND = "warmstart live evaluation checkpoint"

# LiveSettings fields that do not change any result (tasks trained at once give the
# same results as one after another): left out of the fingerprint. Every other field,
# including ones added later, is in it.
_NOT_IN_FINGERPRINT = frozenset({"workers"})

_SAFE_NAME = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,99}")


def _json_ready(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples as lists), for comparing with a stored one."""
    return json.loads(json.dumps(value, allow_nan=False))


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Nested mappings as dotted keys (``train.surrogate.seed``), to name what differs."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value


def records_hash(
    usable: Mapping[str, Sequence[EvaluationRecord]],
    features: Mapping[str, TaskFeatures],
    tasks: Mapping[str, Task],
    families: Mapping[str, str],
) -> str:
    """Hash of the records, meta-features and task facts a live evaluation reads.

    Covers each taking-part task (name, family, rows, meta-features) and each of
    its records (config, seed, fidelity, status, score, metrics, fit time): what
    the folds' bundles, the baselines and the regret's stored scores are made of.
    Independent of the order the store returns them in.
    """
    digest = hashlib.sha256()
    for task_id in sorted(usable):
        task, found = tasks[task_id], features.get(task_id)
        described = (found.version, found.names, found.values) if found is not None else None
        digest.update(
            f"task|{task_id}|{task.name}|{families.get(task_id)}|{task.n_rows}|"
            f"{described!r}\n".encode()
        )
        lines = sorted(
            f"record|{r.task_id}|{r.config_hash}|{r.seed}|{r.fidelity!r}|{r.status.value}|"
            f"{r.score!r}|{sorted(r.metrics.items())!r}|{r.fit_seconds!r}|"
            f"{sorted(r.config.items())!r}\n"
            for r in usable[task_id]
        )
        digest.update("".join(lines).encode())
    return digest.hexdigest()[:16]


def live_fingerprint(
    *,
    space: SearchSpace,
    feature_version: str,
    settings: LiveSettings,
    methods: Sequence[str],
    records: str,
    suite: str,
    held_out: Sequence[str],
) -> dict[str, Any]:
    """Everything that determines a live evaluation's results, as flat JSON values.

    Args:
        space: The search space (its id changes with its content).
        feature_version: The meta-feature version the bundles use.
        settings: The settings; every field but ``workers`` counts (``train`` by its
            fields, as ``train.surrogate.seed`` and so on).
        methods: The methods evaluated (FLAML's only where it is installed).
        records: :func:`records_hash` of what the evaluation reads from the store.
        suite: The suite the held-out tasks are loaded from, as it describes itself.
        held_out: The held-out task ids.

    Returns:
        ``{name: value}`` with dotted names for nested settings; equal for two runs
        that give the same results.
    """
    out: dict[str, Any] = {"space": f"{space.name} ({space.space_id})"}
    out["feature_version"] = feature_version
    for item in fields(LiveSettings):
        if item.name in _NOT_IN_FINGERPRINT:
            continue
        value = getattr(settings, item.name)
        _flat(item.name, asdict(value) if item.name == "train" else value, out)
    out["methods"] = list(methods)
    out["records"] = records
    out["suite"] = suite
    ids = sorted(held_out)
    out["held_out"] = (
        f"{len(ids)} tasks ({hashlib.sha256('|'.join(ids).encode()).hexdigest()[:16]})"
    )
    versions = dict(library_versions())
    if any(m.startswith("flaml") for m in methods):
        versions["flaml"] = installed_versions(["flaml"])["flaml"] or "not installed"
    _flat("libraries", versions, out)
    ready: dict[str, Any] = _json_ready(out)
    return ready


@dataclass(frozen=True)
class _Finished:
    """A held-out task the checkpoint holds: its result, or why it was skipped."""

    result: LiveTaskResult | None
    skipped: str | None = None


class LiveCheckpoint:
    """The checkpoint folder of one live evaluation: finished tasks in, new ones out.

    Open it with :meth:`open`, which checks the fingerprint and reads every file.
    Saving is thread-safe (a process pool's done-callbacks save from another thread).
    """

    def __init__(
        self, folder: Path, finished: dict[str, _Finished], set_rules: dict[int, str]
    ) -> None:
        self.folder = folder
        self._finished = finished
        self._set_rules = set_rules
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        folder: Path,
        fingerprint: Mapping[str, Any],
        held_out: Mapping[str, int],
        *,
        fresh: bool = False,
    ) -> LiveCheckpoint:
        """Start a checkpoint in ``folder``, or read the one there.

        Args:
            folder: The checkpoint folder (created if missing; other files in it are
                left alone).
            fingerprint: :func:`live_fingerprint` of this run.
            held_out: This run's held-out task ids and their folds.
            fresh: Delete the checkpoint's files first (its results are lost).

        Raises:
            InvalidRequestError: ``folder`` is a file.
            FailedPreconditionError: The checkpoint was made by an evaluation with
                another fingerprint (naming what differs), or a file in it cannot be
                read or is not one of this run's tasks (naming the file).
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InvalidRequestError(f"checkpoint {folder} is a file; give a folder")
        if fresh:
            _clear(folder)
        manifest = folder / MANIFEST
        task_files = _listed(folder / _TASKS)
        fold_files = _listed(folder / _FOLDS)
        if manifest.exists():
            _check_manifest(manifest, _json_ready(dict(fingerprint)), len(task_files))
        elif task_files or fold_files:
            raise FailedPreconditionError(
                f"checkpoint {folder} has results but no {MANIFEST} (it says which evaluation "
                "made them): give another folder, or add --fresh (fresh=True) to discard them"
            )
        else:
            folder.mkdir(parents=True, exist_ok=True)
            _write_json(
                manifest,
                {"kind": _KIND, "format": CHECKPOINT_FORMAT, "fingerprint": dict(fingerprint)},
            )
        finished = {}
        for path in task_files:
            task_id, entry = _read_task(path, held_out)
            finished[task_id] = entry
        set_rules = dict(_read_fold(path) for path in fold_files)
        return cls(folder, finished, set_rules)

    @property
    def n_done(self) -> int:
        """Held-out tasks the checkpoint holds (evaluated or skipped)."""
        return len(self._finished)

    def done(self, task_id: str) -> bool:
        """Whether the checkpoint holds the task (its result, or why it was skipped)."""
        return task_id in self._finished

    def result(self, task_id: str) -> LiveTaskResult | None:
        """The task's stored result (``None``: not held, or skipped)."""
        found = self._finished.get(task_id)
        return None if found is None else found.result

    def skipped(self, task_id: str) -> str | None:
        """Why the task was skipped (``None``: not held, or evaluated)."""
        found = self._finished.get(task_id)
        return None if found is None else found.skipped

    def set_rule(self, fold: int) -> str | None:
        """How the fold's bundle chose its set rules (``None``: not trained yet)."""
        return self._set_rules.get(fold)

    def save_result(self, result: LiveTaskResult) -> None:
        """Write a finished task's result (once: saving the same result again does nothing)."""
        with self._lock:
            if self.result(result.task_id) is result:
                return
            payload = {"format": CHECKPOINT_FORMAT, "result": result.to_dict()}
            _write_json(self._task_path(result.task_id), payload)
            self._finished[result.task_id] = _Finished(result)

    def save_skipped(self, task_id: str, note: str) -> None:
        """Write that a task was skipped, with the note the report gives."""
        with self._lock:
            payload = {"format": CHECKPOINT_FORMAT, "task_id": task_id, "skipped": note}
            _write_json(self._task_path(task_id), payload)
            self._finished[task_id] = _Finished(None, note)

    def save_set_rule(self, fold: int, note: str) -> None:
        """Write how a fold's bundle chose its set rules."""
        with self._lock:
            payload = {"format": CHECKPOINT_FORMAT, "fold": fold, "set_rule": note}
            _write_json(self.folder / _FOLDS / f"{fold}.json", payload)
            self._set_rules[fold] = note

    def keep_landed(self, future: Future[LiveTaskResult]) -> None:
        """A done-callback for a task's future: save its result as soon as it lands.

        A failed or cancelled task is left to whoever collects the future (it raises there).
        """
        if not future.cancelled() and future.exception() is None:
            self.save_result(future.result())

    def _task_path(self, task_id: str) -> Path:
        return self.folder / _TASKS / f"{_file_stem(task_id)}.json"


def _file_stem(task_id: str) -> str:
    """A file name for a task id: the id itself when it is a safe name, else its hash."""
    if _SAFE_NAME.fullmatch(task_id):
        return task_id
    return "id-" + hashlib.sha256(task_id.encode()).hexdigest()[:32]


def _listed(folder: Path) -> list[Path]:
    """The JSON files of a checkpoint sub-folder; leftover temporary files are removed."""
    if not folder.is_dir():
        return []
    for partial in folder.glob(".*.partial"):
        partial.unlink(missing_ok=True)  # a write killed before its rename
    return sorted(p for p in folder.iterdir() if p.suffix == ".json" and p.is_file())


def _clear(folder: Path) -> None:
    """Delete the checkpoint's own files (the manifest, tasks and folds), nothing else."""
    for sub in (_TASKS, _FOLDS):
        for path in _listed(folder / sub):
            path.unlink()
    (folder / MANIFEST).unlink(missing_ok=True)


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` atomically: a temporary file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=1, allow_nan=False) + "\n"
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename makes it the file
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _load_json(path: Path) -> dict[str, Any]:
    """A checkpoint file's object, or an error naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _unreadable(path, str(error)) from None
    if not isinstance(data, dict):
        raise _unreadable(path, "not a JSON object")
    if data.get("format") != CHECKPOINT_FORMAT:
        raise _unreadable(
            path, f"format {data.get('format')!r}, this version reads {CHECKPOINT_FORMAT}"
        )
    return data


def _unreadable(path: Path, why: str) -> FailedPreconditionError:
    return FailedPreconditionError(
        f"checkpoint file {path} cannot be read ({why}): delete it to evaluate its task "
        "again, or start fresh (another checkpoint folder, or --fresh / fresh=True)"
    )


def _check_manifest(path: Path, fingerprint: Mapping[str, Any], n_tasks: int) -> None:
    """Refuse a checkpoint made by an evaluation with another fingerprint, naming what differs."""
    data = _load_json(path)
    if data.get("kind") != _KIND or not isinstance(data.get("fingerprint"), dict):
        raise _unreadable(path, "not a live evaluation checkpoint")
    stored: dict[str, Any] = data["fingerprint"]
    differ = [
        f"{key} was {_shown(stored.get(key, '(absent)'))}, "
        f"now {_shown(fingerprint.get(key, '(absent)'))}"
        for key in dict.fromkeys([*fingerprint, *stored])  # the fingerprint's own order
        if stored.get(key, "(absent)") != fingerprint.get(key, "(absent)")
    ]
    if differ:
        raise FailedPreconditionError(
            f"checkpoint {path.parent} was made by another evaluation ({n_tasks} finished "
            f"tasks): {'; '.join(differ)}. Run with the same settings and data to resume, or "
            "start fresh: give another checkpoint folder, or add --fresh (fresh=True) to "
            "discard its results"
        )


def _shown(value: Any) -> str:
    """A fingerprint value for a message: its JSON, cut after 80 characters."""
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _read_task(path: Path, held_out: Mapping[str, int]) -> tuple[str, _Finished]:
    """A task file's task id and content, checked against this run's held-out tasks."""
    data = _load_json(path)
    try:
        if "result" in data:
            result = LiveTaskResult.from_dict(data["result"])
            task_id, found = result.task_id, _Finished(result)
        elif isinstance(data.get("task_id"), str) and isinstance(data.get("skipped"), str):
            task_id, found = data["task_id"], _Finished(None, data["skipped"])
        else:
            raise InvalidRequestError("neither a result nor a skipped task")
    except InvalidRequestError as error:
        raise _unreadable(path, str(error)) from None
    if path.stem != _file_stem(task_id):
        raise _unreadable(path, f"it holds task {task_id!r}, another task's file")
    if task_id not in held_out:
        raise _unreadable(path, f"task {task_id!r} is not one of this evaluation's held-out tasks")
    if found.result is not None and found.result.fold != held_out[task_id]:
        raise _unreadable(
            path, f"task in fold {found.result.fold}, this evaluation holds it out in "
            f"fold {held_out[task_id]}"
        )  # fmt: skip
    return task_id, found


def _read_fold(path: Path) -> tuple[int, str]:
    """A fold file's fold and set-rule note."""
    data = _load_json(path)
    fold, note = data.get("fold"), data.get("set_rule")
    if not isinstance(fold, int) or isinstance(fold, bool) or not isinstance(note, str):
        raise _unreadable(path, "no fold number and set-rule note")
    if path.stem != str(fold):
        raise _unreadable(path, f"it holds fold {fold}, another fold's file")
    return fold, note
