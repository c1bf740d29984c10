"""Suites by spec string, as the CLI and config files name them.

Grammar (no spaces; values cannot contain commas)::

    spec  := KIND [ ":" item ( "," item )* ]
    item  := KEY "=" VALUE | VALUE

A bare VALUE fills the kind's positional argument (the folder for ``pmlb`` and
``files``, the names for ``sklearn``, the dataset ids for ``openml``) or
continues the list KEY just before it (``openml:ids=61,554,tasks=59``).

    pmlb:PATH[,target=COL][,name=NAME]       folder with manifest.csv
    files:PATH[,target=COL][,name=NAME]      folder of csv/tsv(.gz)/parquet files
    sklearn[:NAME,...]                        bundled scikit-learn datasets
    synthetic[:n=20][,seed=0][,per_family=3]  generated task families
    openml:ids=ID,...[,tasks=ID,...][,cache=DIR][,target=COL]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from warmstart.benchmarks.tasks._base import Suite
from warmstart.benchmarks.tasks._files import FolderSuite
from warmstart.benchmarks.tasks._openml import OpenMLSuite
from warmstart.benchmarks.tasks._sklearn import SklearnSuite
from warmstart.benchmarks.tasks._synthetic import SyntheticSuite
from warmstart.metamodel.errors import InvalidRequestError

__all__ = ["available_suite_kinds", "load_suite", "parse_suite_spec"]

SuiteArgs = dict[str, list[str]]


@dataclass(frozen=True)
class _Kind:
    description: str
    usage: str
    build: Callable[[SuiteArgs], Suite]
    positional: str | None = None
    lists: tuple[str, ...] = ()
    scalars: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return self.lists + self.scalars


def _one(args: SuiteArgs, key: str) -> str | None:
    values = args.get(key)
    return values[0] if values else None


def _integer(args: SuiteArgs, key: str, default: int) -> int:
    text = _one(args, key)
    return default if text is None else _parse_int(key, text)


def _parse_int(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidRequestError(f"suite spec: {key} must be an integer, got {text!r}") from None


def _folder(kind: str) -> Callable[[SuiteArgs], Suite]:
    def build(args: SuiteArgs) -> Suite:
        path = _one(args, "path")
        if not path:
            raise InvalidRequestError(f"suite spec: {kind} needs a folder, as in {kind}:PATH")
        return FolderSuite(
            path,
            target=_one(args, "target") or "target",
            kind=kind,
            name=_one(args, "name"),
            require_manifest=kind == "pmlb",
        )

    return build


def _sklearn(args: SuiteArgs) -> Suite:
    return SklearnSuite(args.get("names") or None)


def _synthetic(args: SuiteArgs) -> Suite:
    return SyntheticSuite(
        n=_integer(args, "n", 20),
        seed=_integer(args, "seed", 0),
        per_family=_integer(args, "per_family", 3),
    )


def _openml(args: SuiteArgs) -> Suite:
    return OpenMLSuite(
        [_parse_int("ids", v) for v in args.get("ids", [])],
        [_parse_int("tasks", v) for v in args.get("tasks", [])],
        cache=_one(args, "cache"),
        target=_one(args, "target"),
    )


_KINDS: dict[str, _Kind] = {
    "pmlb": _Kind(
        "a folder of PMLB-style files listed by manifest.csv (families, task types)",
        "pmlb:PATH[,target=COL][,name=NAME]",
        _folder("pmlb"),
        positional="path",
        scalars=("path", "target", "name"),
    ),
    "files": _Kind(
        "a folder of .csv/.tsv(.gz)/.parquet files with a target column",
        "files:PATH[,target=COL][,name=NAME]",
        _folder("files"),
        positional="path",
        scalars=("path", "target", "name"),
    ),
    "sklearn": _Kind(
        "scikit-learn's bundled datasets (iris, wine, breast_cancer, digits, diabetes)",
        "sklearn[:NAME,...]",
        _sklearn,
        positional="names",
        lists=("names",),
    ),
    "synthetic": _Kind(
        "seeded families of generated tasks (make_classification, make_regression, friedman1)",
        "synthetic[:n=20][,seed=0][,per_family=3]",
        _synthetic,
        scalars=("n", "seed", "per_family"),
    ),
    "openml": _Kind(
        "OpenML datasets/tasks by id, from a cache folder or via openml-python",
        "openml:ids=ID,...[,tasks=ID,...][,cache=DIR][,target=COL]",
        _openml,
        positional="ids",
        lists=("ids", "tasks"),
        scalars=("cache", "target"),
    ),
}


def available_suite_kinds() -> list[tuple[str, str]]:
    """Return ``(kind, description with usage)`` for every suite kind, for listings."""
    return [(kind, f"{spec.description}; usage: {spec.usage}") for kind, spec in _KINDS.items()]


def parse_suite_spec(spec: str) -> tuple[str, SuiteArgs]:
    """Split a suite spec string into its kind and arguments.

    Args:
        spec: E.g. ``"files:/data/tables,target=label"``.

    Returns:
        ``(kind, {key: [values]})``.

    Raises:
        InvalidRequestError: Unknown kind or key, a repeated key, or a value
            with no key to go to.
    """
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in _KINDS:
        allowed = "; ".join(s.usage for s in _KINDS.values())
        raise InvalidRequestError(
            f"unknown suite kind {kind!r} in {spec!r}; allowed kinds: "
            f"{', '.join(_KINDS)} ({allowed})"
        )
    schema = _KINDS[kind]
    args: SuiteArgs = {}
    open_list = schema.positional if schema.positional in schema.lists else None
    for token in (t.strip() for t in rest.split(",")):
        if not token:
            continue
        key, equals, value = token.partition("=")
        if equals:
            key = key.strip().lower()
            if key not in schema.keys:
                raise InvalidRequestError(
                    f"suite spec {spec!r}: unknown option {key!r} for {kind}; "
                    f"allowed: {', '.join(schema.keys) or 'none'} (usage: {schema.usage})"
                )
            if key in schema.lists:
                args.setdefault(key, []).extend([value.strip()] if value.strip() else [])
                open_list = key
                continue
            if key in args:
                raise InvalidRequestError(f"suite spec {spec!r}: {key} is given twice")
            args[key] = [value.strip()]
            open_list = None
        elif open_list is not None:
            args.setdefault(open_list, []).append(token)
        elif schema.positional is not None and schema.positional not in args:
            args[schema.positional] = [token]
        else:
            raise InvalidRequestError(
                f"suite spec {spec!r}: unexpected value {token!r}; expected KEY=VALUE "
                f"(usage: {schema.usage})"
            )
    return kind, args


def load_suite(spec: str) -> Suite:
    """Build the suite a spec string names (tasks are loaded lazily, later).

    Args:
        spec: See the module docstring, e.g. ``"pmlb:/data/pmlb"``,
            ``"synthetic:n=20,seed=0"``, ``"openml:ids=61,cache=/data/openml"``.

    Returns:
        The suite.

    Raises:
        InvalidRequestError: A malformed spec or bad arguments.
        FailedPreconditionError: An optional dependency the suite needs is missing.
    """
    kind, args = parse_suite_spec(spec)
    return _KINDS[kind].build(args)
