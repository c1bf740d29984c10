"""Meta-features given rather than computed: a feature set's names, and files of values.

A feature set other than :data:`~warmstart.metamodel.features.FEATURE_VERSION` (OpenML
qualities, a team's own task descriptors) cannot be computed from data here; a
task is then described by a file of ``name -> value``. A version's names are
fixed: whoever gives features of a version gives those names.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from warmstart.metamodel.errors import InvalidRequestError

__all__ = ["check_given", "name_difference", "read_feature_values", "require_names"]

_SHOWN = 12  # names listed per kind of difference; the rest are counted


def name_difference(expected: Sequence[str], given: Iterable[str]) -> str:
    """Say how ``given`` names differ from ``expected`` ones ("" when they are the same set).

    Returns:
        e.g. ``"missing 'a', 'b'; extra 'c'"`` (a dozen of each at most, the rest
        counted), or ``""``.
    """
    have, want = set(given), set(expected)
    parts = []
    missing = [n for n in expected if n not in have]
    extra = sorted(have - want)
    for label, names in (("missing", missing), ("extra", extra)):
        if names:
            shown = ", ".join(map(repr, names[:_SHOWN]))
            more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
            parts.append(f"{label} {shown}{more}")
    return "; ".join(parts)


def require_names(version: str, expected: Sequence[str], given: Sequence[str], where: str) -> None:
    """Refuse features of ``version`` whose names are not the version's, in its order.

    Raises:
        InvalidRequestError: Naming the missing and extra names (or the order).
    """
    if tuple(given) == tuple(expected):
        return
    difference = name_difference(expected, given) or "the same names in another order"
    raise InvalidRequestError(
        f"{where}: meta-features {version!r} have {len(expected)} fixed names and these differ "
        f"({difference}); give the version's names in its order, or another version name "
        "for another feature set"
    )


def _number(name: str, value: object, where: str) -> float:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "nan", "null")):
        return math.nan
    if isinstance(value, bool):
        raise InvalidRequestError(f"{where}: {name!r} must be a number or null, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidRequestError(
            f"{where}: {name!r} must be a number or null, got {value!r}"
        ) from None
    if math.isinf(number):
        raise InvalidRequestError(f"{where}: {name!r} must be finite or null, got {value!r}")
    return number


def _from_json(path: Path, text: str) -> dict[str, float]:
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(loaded, dict) or not loaded:
        raise InvalidRequestError(
            f'{path}: must hold a JSON object of name -> value, e.g. {{"NumberOfInstances": 1484}}'
        )
    return {str(k): _number(str(k), v, str(path)) for k, v in loaded.items()}


def _from_csv(path: Path, text: str) -> dict[str, float]:
    rows = [r for r in csv.reader(text.splitlines()) if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise InvalidRequestError(
            f"{path}: a CSV of meta-features needs a header and values: either columns "
            "name,value (one feature a row) or the names as the header and one row of values"
        )
    header = [cell.strip() for cell in rows[0]]
    if [h.lower() for h in header] == ["name", "value"]:
        pairs = []
        for i, row in enumerate(rows[1:], start=2):
            if len(row) != 2:
                raise InvalidRequestError(f"{path}:{i}: expected name,value, got {row}")
            pairs.append((row[0].strip(), row[1]))
    elif len(rows) == 2 and len(rows[1]) == len(header):
        pairs = list(zip(header, rows[1], strict=True))
    else:
        raise InvalidRequestError(
            f"{path}: give either columns name,value (one feature a row) or the names as the "
            f"header and exactly one row of values; got {len(rows) - 1} rows of {len(header)} "
            "columns"
        )
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InvalidRequestError(f"{path}: names given twice: {', '.join(twice)}")
    return {name: _number(name, value, str(path)) for name, value in pairs}


def read_feature_values(path: Path) -> dict[str, float]:
    """Read a task's meta-features from a JSON object or a CSV of ``name -> value``.

    JSON: ``{"NumberOfInstances": 1484, "NumberOfClasses": 10, ...}``. CSV: either
    the columns ``name,value`` with one feature a row, or the names as the header
    and one row of values. ``null``, empty and ``nan`` are missing values (NaN).

    Raises:
        InvalidRequestError: No such file, or not one of these shapes; a value
            that is not a number, or infinite.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"{path}: cannot read the file ({exc})") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return _from_json(path, text)
    return _from_csv(path, text)


def check_given(values: Mapping[str, float], names: Sequence[str], version: str) -> None:
    """Refuse given values with names outside ``names`` (missing ones are NaN, allowed).

    Raises:
        InvalidRequestError: Naming the unknown names and the version's names.
    """
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InvalidRequestError(
            f"unknown meta-feature name(s) {', '.join(map(repr, unknown))} for version "
            f"{version!r}; its names are {', '.join(names)}"
        )
