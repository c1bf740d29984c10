"""Observed results from a file, checked and sent to a server's ReportResults in batches.

The file is JSON lines (one result object per line; blank lines are skipped) or one JSON
list of result objects; :data:`FIELDS` are their fields (the README describes them).
:func:`read_results` checks the whole file and :func:`check_configs` every config against
the server's version of its space before anything is sent, naming each problem by line and
field; :func:`send_results` reports in batches and names the file's lines in the server's
refusals.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import RecordStatus
from warmstart.service.client import WarmstartClient, WarmstartRpcError
from warmstart.service.wire.api import ReportedResult
from warmstart.service.wire.limits import MAX_ID_CHARS

__all__ = ["FIELDS", "MAX_BATCH", "ReportTotals", "check_configs", "read_results", "send_results"]

FIELDS = (
    "id",
    "task_id",
    "space",
    "config",
    "status",
    "score",
    "metrics",
    "fit_seconds",
    "seed",
    "fidelity",
    "error",
)
"""The fields of one result object, in documentation order."""

_SHOWN = 10
MAX_BATCH = 10_000
"""The most results one ReportResults call may carry (the server's default limit)."""


@dataclass(frozen=True)
class _Entry:
    where: str  # "FILE:LINE" (JSON lines) or "FILE: item N" (a JSON list)
    result: ReportedResult


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: object) -> str:
    shown = json.dumps(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _parse(item: object) -> tuple[ReportedResult | None, list[str]]:
    """One result object → the result, or the problems with it (each naming its field)."""
    if not isinstance(item, dict):
        return None, [f"a result must be a JSON object, got {_text(item)}"]
    problems: list[str] = []
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        problems.append(
            f"unknown field(s) {', '.join(map(repr, unknown))}; fields are {', '.join(FIELDS)}"
        )

    def need(name: str, ok: Callable[[Any], bool], what: str, *, required: bool) -> Any:
        if name not in item or item[name] is None:
            if required:
                problems.append(f"field {name!r} is required ({what})")
            return None
        value = item[name]
        if not ok(value):
            problems.append(f"field {name!r} must be {what}, got {_text(value)}")
            return None
        return value

    def text(v: Any) -> bool:
        return isinstance(v, str) and bool(v.strip())

    result_id = need(
        "id",
        lambda v: text(v) and len(v) <= MAX_ID_CHARS,
        f"a non-empty string of at most {MAX_ID_CHARS} characters",
        required=True,
    )
    task_id = need("task_id", text, "a non-empty string", required=True)
    space = need("space", text, "a space name or id", required=True)
    config = need(
        "config",
        lambda v: (
            isinstance(v, dict) and all(isinstance(x, (bool, int, float, str)) for x in v.values())
        ),
        "an object of numbers, strings and booleans",
        required=True,
    )
    statuses = [s.value for s in RecordStatus]
    status = need("status", lambda v: v in statuses, " or ".join(statuses), required=False)
    score = need(
        "score", lambda v: _is_number(v) and math.isfinite(v), "a finite number", required=False
    )
    metrics = need(
        "metrics",
        lambda v: isinstance(v, dict) and all(_is_number(x) for x in v.values()),
        "an object of numbers",
        required=False,
    )
    fit_seconds = need(
        "fit_seconds",
        lambda v: _is_number(v) and math.isfinite(v) and v >= 0,
        "a number >= 0",
        required=False,
    )
    seed = need(
        "seed",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63,
        "a 64-bit integer",
        required=False,
    )
    fidelity = need(
        "fidelity",
        lambda v: _is_number(v) and math.isfinite(v) and v > 0,
        "a finite number > 0",
        required=False,
    )
    error = need("error", lambda v: isinstance(v, str), "a string", required=False)
    kind = RecordStatus(status) if status is not None else RecordStatus.OK
    if status is not None or item.get("status") is None:  # a valid status (or the default)
        given = item.get("score") is not None
        if kind is RecordStatus.OK and not given:
            problems.append("field 'score' is required when the status is ok")
        elif kind is not RecordStatus.OK and given:
            problems.append(f"field 'score' must be absent or null when the status is {kind.value}")
    if problems:
        return None, problems
    return (
        ReportedResult(
            result_id=result_id,
            task_id=task_id,
            space=space,
            config=config,
            status=kind,
            score=None if score is None else float(score),
            metrics={str(k): float(v) for k, v in (metrics or {}).items()},
            fit_seconds=None if fit_seconds is None else float(fit_seconds),
            seed=seed or 0,
            fidelity=None if fidelity is None else float(fidelity),
            error=error or "",
        ),
        [],
    )


def _items(path: Path) -> list[tuple[str, object]]:
    """The file's result objects, each with where it is: ``FILE:LINE`` or ``FILE: item N``."""
    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"{path}: cannot read the file ({exc})") from None
    if text.lstrip().startswith("["):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        return [(f"{path}: item {i}", item) for i, item in enumerate(loaded)]
    items: list[tuple[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((f"{path}:{number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(
                f"{path}:{number}: not valid JSON ({exc.msg}); the file must be JSON lines "
                "(one result object per line) or one JSON list of result objects"
            ) from None
    return items


def _listed(problems: list[str]) -> str:
    extra = len(problems) - _SHOWN
    more = f"\n  ... and {extra} more" if extra > 0 else ""
    return "\n  ".join(problems[:_SHOWN]) + more


def read_results(path: Path) -> list[tuple[str, ReportedResult]]:
    """Read and check a results file (JSON lines or a JSON list); nothing is sent.

    Returns:
        Each result with where it is in the file (``FILE:LINE`` or ``FILE: item N``).

    Raises:
        InvalidRequestError: The file is missing, empty, not JSON, or any result is
            malformed; every problem (up to ten shown) names its line and field.
    """
    entries: list[_Entry] = []
    problems: list[str] = []
    first_of_id: dict[str, str] = {}
    for where, item in _items(path):
        result, found = _parse(item)
        problems.extend(f"{where}: {p}" for p in found)
        if result is None:
            continue
        if result.result_id in first_of_id:
            problems.append(
                f"{where}: field 'id': {result.result_id!r} is used before, at "
                f"{first_of_id[result.result_id]}; ids must be unique"
            )
        first_of_id.setdefault(result.result_id, where)
        entries.append(_Entry(where, result))
    if problems:
        raise InvalidRequestError(
            f"{path}: {len(problems)} problem(s), nothing was sent:\n  {_listed(problems)}"
        )
    if not entries:
        raise InvalidRequestError(f"{path}: no results in the file")
    return [(e.where, e.result) for e in entries]


def check_configs(client: WarmstartClient, entries: list[tuple[str, ReportedResult]]) -> None:
    """Validate every config against the server's version of its space (a read, no write).

    Raises:
        InvalidRequestError: A space the server does not know, or a config not valid in its
            space; every problem (up to ten shown) names its line.
        WarmstartRpcError: The server refused a call (other than for an unknown space).
    """
    # ConfigSpace (with SciPy) takes about 0.8 s to import: only a report that is sent pays it.
    from warmstart.metamodel.spaces import load_configspace, validate_config

    spaces: dict[str, Any] = {}
    problems: list[str] = []
    for where, result in entries:
        if result.space not in spaces:
            try:
                spaces[result.space] = load_configspace(client.space(result.space).search_space)
            except WarmstartRpcError as exc:
                if exc.code is not grpc.StatusCode.NOT_FOUND:
                    raise
                spaces[result.space] = None
        space = spaces[result.space]
        if space is None:
            problems.append(f"{where}: field 'space': the server knows no space {result.space!r}")
            continue
        try:
            validate_config(space, result.config)
        except InvalidRequestError as exc:
            problems.append(f"{where}: field 'config': {exc}")
    if problems:
        raise InvalidRequestError(
            f"{len(problems)} problem(s), nothing was sent:\n  {_listed(problems)}"
        )


def _in_file_terms(message: str, wheres: list[str]) -> str:
    """Rewrite the server's ``results[i]`` (an index into one batch) as the file's line."""

    def replace(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return wheres[index] if index < len(wheres) else match.group(0)

    return re.sub(r"results\[(\d+)\]", replace, message)


@dataclass(frozen=True)
class ReportTotals:
    """What a report stored.

    Attributes:
        results: The results sent.
        stored: New results.
        already: Ids reported before (with the same payload).
        duplicates: New ids whose evaluation the server stores already (under another
            id): not stored; repeats of an evaluation need different seeds.
        batches: ReportResults calls made.
        duplicate_ids: The ids of those duplicates.
    """

    results: int
    stored: int
    already: int
    duplicates: int
    batches: int
    duplicate_ids: tuple[str, ...] = ()


def send_results(
    client: WarmstartClient,
    entries: list[tuple[str, ReportedResult]],
    batch: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> ReportTotals:
    """Report the results in batches of ``batch``; ``progress(sent, total)`` after each.

    A refused batch's message names the file's lines instead of the batch's indexes, and
    says how many results earlier batches reported (sending the file again is safe: they
    count as already reported).

    Raises:
        InvalidRequestError: ``batch`` outside [1, :data:`MAX_BATCH`].
        WarmstartRpcError: The server refused a batch.
    """
    if not 1 <= batch <= MAX_BATCH:
        raise InvalidRequestError(f"--batch must be in [1, {MAX_BATCH}], got {batch}")
    stored = already = 0
    duplicates: list[str] = []
    for start in range(0, len(entries), batch):
        chunk = entries[start : start + batch]
        wheres = [where for where, _ in chunk]
        try:
            summary = client.report([result for _, result in chunk])
        except WarmstartRpcError as exc:
            exc.message = _in_file_terms(exc.message, wheres)
            named = [w for w, r in chunk if f"{r.task_id!r}" in exc.message]
            if exc.code is grpc.StatusCode.NOT_FOUND and named:
                more = f" and {len(named) - 3} more" if len(named) > 3 else ""
                exc.message += f" (at {', '.join(named[:3])}{more})"
            if start:
                exc.message += (
                    f" ({stored + already} results before {wheres[0]} were reported; "
                    "fix the file and run again: they will count as already reported)"
                )
            raise
        stored += summary.stored
        already += summary.already
        duplicates.extend(summary.duplicate_ids)
        if progress is not None:
            progress(start + len(chunk), len(entries))
    batches = -(-len(entries) // batch)
    return ReportTotals(len(entries), stored, already, len(duplicates), batches, tuple(duplicates))
