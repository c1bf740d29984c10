"""The knowledge base's plan (``kb/plan.toml``): which benchmark runs make it, as data.

A plan names a suite kind (its path is given to the build), the
meta-feature version, and a list of steps; each step is one ``warmstart bench
run`` (learners, configs per learner, how many tasks, the protocol). A plan may
name further suites in a ``[suites]`` table (``name = "kind"``, each path also
given to the build), and a step runs on one of them when it says
``suite = "name"``: the suite's larger tables, for example, kept apart so the main
suite's order never changes. A ``[probes]`` table names the learners whose models
read learner probes (:mod:`warmstart.metamodel.probes`): how many candidate configs
the build measures on every task, and how many of them a model reads. Loading checks
every field and names the file and field of the first bad one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from warmstart.benchmarks.learners import available_learners
from warmstart.benchmarks.runner import PlanSpec, Protocol
from warmstart.benchmarks.tasks import available_suite_kinds
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.spaces import LOCAL_SCALE, SamplerName

__all__ = ["KbPlan", "KbStep", "ProbePlan", "load_kb_plan", "split_suite_options"]

_PLAN_KEYS = ("suite", "feature_version", "suites", "probes", "steps")
_PROBE_KEYS = ("learners", "candidates", "read")
_STEP_KEYS = (
    "suite",
    "learners",
    "configs",
    "tasks",
    "min_rows",
    "folds",
    "row_cap",
    "time_limit",
    "seeds",
    "sampler",
    "scale",
)
_SAMPLERS = ["sobol", "local"]
_MIN_ROW_CAP = 20  # as the runner's PlanSpec requires
SUITE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
"""What a further suite's name in ``[suites]`` may be (no ``:``, so ``NAME=KIND:PATH`` parses)."""


@dataclass(frozen=True)
class KbStep:
    """One benchmark run of the plan, as ``warmstart bench run`` takes it.

    ``suite`` is the name of one of the plan's further suites (``[suites]``), or
    None for the plan's own suite.
    """

    learners: tuple[str, ...]
    configs: int
    tasks: int | None = None
    min_rows: int | None = None
    folds: int = 3
    row_cap: int = 2000
    time_limit: float = 120.0
    seeds: tuple[int, ...] = (0,)
    suite: str | None = None
    sampler: SamplerName = "sobol"
    scale: float = LOCAL_SCALE

    def spec(
        self,
        suite: str,
        learners: tuple[str, ...] | None = None,
        shard: tuple[int, int] | None = None,
    ) -> PlanSpec:
        """The runner's spec of this step on ``suite`` (for ``learners`` of it only, and the
        ``shard`` of its tasks only, if given)."""
        return PlanSpec(
            suite=suite,
            learners=list(learners if learners is not None else self.learners),
            n_configs=self.configs,
            sampler=self.sampler,
            scale=self.scale,
            seeds=list(self.seeds),
            protocol=Protocol(folds=self.folds, row_cap=self.row_cap or None),
            max_tasks=self.tasks,
            min_rows=self.min_rows,
            shard=shard,
        )

    def describe(self) -> str:
        """One line for people."""
        tasks = "all tasks" if self.tasks is None else f"at most {self.tasks} tasks"
        if self.min_rows is not None:
            tasks += f" of at least {self.min_rows} rows"
        if self.suite is not None:
            tasks += f" of suite {self.suite}"
        cap = f"row cap {self.row_cap}" if self.row_cap else "all rows"
        configs = f"{self.configs} configs"
        if self.sampler == "local":
            configs += f" around the default (scale {self.scale:g})"
        return (
            f"{', '.join(self.learners)}: {configs}, {tasks}, {self.folds} folds, "
            f"{cap}, {self.time_limit:g} s per evaluation, seeds {list(self.seeds)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The step as the plan file spells it, defaults filled in."""
        out: dict[str, Any] = {} if self.suite is None else {"suite": self.suite}
        out |= {"learners": list(self.learners), "configs": self.configs}
        if self.sampler != "sobol":
            out |= {"sampler": self.sampler, "scale": self.scale}
        if self.tasks is not None:
            out["tasks"] = self.tasks
        if self.min_rows is not None:
            out["min_rows"] = self.min_rows
        out |= {
            "folds": self.folds,
            "row_cap": self.row_cap,
            "time_limit": self.time_limit,
            "seeds": list(self.seeds),
        }
        return out


@dataclass(frozen=True)
class ProbePlan:
    """Which spaces' models read learner probes (the plan's ``[probes]`` table).

    Attributes:
        learners: The learners (spaces) probed.
        candidates: Probe candidates measured on every task of such a space: the first
            of :func:`~warmstart.metamodel.probe_choice.choose_probes` on all its records when
            the store has none yet (then fixed: later builds measure the same configs).
        read: How many of the candidates a model reads (chosen when it is trained).
    """

    learners: tuple[str, ...]
    candidates: int = 8
    read: int = 4

    def to_dict(self) -> dict[str, Any]:
        """The table as the plan file spells it, defaults filled in."""
        return {"learners": list(self.learners), "candidates": self.candidates, "read": self.read}


@dataclass(frozen=True)
class KbPlan:
    """The whole plan: a suite kind, a feature version and the steps, in order.

    ``suites`` maps the names of further suites that steps may run on to their kinds.
    """

    path: Path
    suite: str
    feature_version: str
    steps: tuple[KbStep, ...]
    suites: dict[str, str] = field(default_factory=dict)
    probes: ProbePlan | None = None

    def probes_read(self, learner: str) -> int:
        """How many probes the model of ``learner`` reads (0: none)."""
        return self.probes.read if self.probes and learner in self.probes.learners else 0

    def steps_on(self, name: str | None) -> list[int]:
        """The indices of the steps that run on suite ``name`` (None: the plan's own)."""
        return [i for i, step in enumerate(self.steps) if step.suite == name]

    @property
    def learners(self) -> list[str]:
        """Every learner (space) the plan evaluates, in order of first appearance."""
        return list(dict.fromkeys(name for step in self.steps for name in step.learners))

    def to_dict(self) -> dict[str, Any]:
        """The plan as loaded (defaults filled in), for provenance."""
        out: dict[str, Any] = {"suite": self.suite, "feature_version": self.feature_version}
        if self.suites:
            out["suites"] = dict(self.suites)
        if self.probes is not None:
            out["probes"] = self.probes.to_dict()
        return out | {"steps": [step.to_dict() for step in self.steps]}


class _Fields:
    """Checks the fields of one table of the plan file, naming the file and field."""

    def __init__(self, path: Path, where: str, table: dict[str, Any], allowed: tuple[str, ...]):
        self.path, self.where, self.table = path, where, table
        unknown = [key for key in table if key not in allowed]
        if unknown:
            raise self.error(
                f"unknown key {unknown[0]!r}{self.at()}; allowed keys: {', '.join(allowed)}"
            )

    def at(self) -> str:
        return f" in {self.where}" if self.where else ""

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, message: str) -> InvalidRequestError:
        return InvalidRequestError(f"plan {self.path}: {message}")

    def required(self, key: str) -> Any:
        if key not in self.table:
            raise self.error(f"{self.name(key)} is missing")
        return self.table[key]

    def integer(self, key: str, minimum: int, default: int | None = None) -> int | None:
        value = self.table.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(f"{self.name(key)} must be an integer >= {minimum}, got {value!r}")
        return value

    def text(self, key: str, allowed: list[str]) -> str:
        value = self.required(key)
        if value not in allowed:
            raise self.error(f"{self.name(key)} must be one of {', '.join(allowed)}; got {value!r}")
        return str(value)


def _suites(fields: _Fields, kinds: list[str]) -> dict[str, str]:
    """The plan's further suites (``[suites]``: name = kind), checked."""
    table = fields.table.get("suites", {})
    if not isinstance(table, dict):
        raise fields.error('suites must be a table of name = "kind" ([suites])')
    for name, kind in table.items():
        if not SUITE_NAME.fullmatch(name):
            raise fields.error(
                f"suites: {name!r} is not a suite name (a letter, then letters, digits, - or _)"
            )
        if name == fields.table.get("suite"):
            raise fields.error(f"suites.{name}: the plan's own suite needs no entry")
        if kind not in kinds:
            raise fields.error(f"suites.{name} must be one of {', '.join(kinds)}; got {kind!r}")
    return dict(table)


def _probes(path: Path, table: Any, learners: list[str]) -> ProbePlan:
    """The plan's ``[probes]`` table, checked against the learners its steps evaluate."""
    if not isinstance(table, dict):
        raise InvalidRequestError(f"plan {path}: probes must be a table ([probes])")
    fields = _Fields(path, "probes", table, _PROBE_KEYS)
    named = fields.required("learners")
    if not isinstance(named, list) or not named or not all(isinstance(n, str) for n in named):
        raise fields.error("probes.learners must be a non-empty list of learner names")
    unknown = [name for name in named if name not in learners]
    if unknown:
        raise fields.error(
            f"probes.learners: {unknown[0]!r} is not evaluated by any step of the plan "
            f"(its learners: {', '.join(learners)})"
        )
    if len(set(named)) != len(named):
        raise fields.error(f"probes.learners names a learner twice: {named}")
    candidates = fields.integer("candidates", 1, default=ProbePlan.candidates) or 1
    read = fields.integer("read", 1, default=ProbePlan.read) or 1
    if read > candidates:
        raise fields.error(
            f"probes.read ({read}) must be at most probes.candidates ({candidates}): a model "
            "reads some of the candidates measured"
        )
    return ProbePlan(tuple(named), candidates, read)


def _step(path: Path, index: int, table: Any, suites: dict[str, str]) -> KbStep:
    where = f"steps[{index}]"
    if not isinstance(table, dict):
        raise InvalidRequestError(f"plan {path}: {where} must be a table ([[steps]])")
    fields = _Fields(path, where, table, _STEP_KEYS)
    suite = table.get("suite")
    if suite is not None and suite not in suites:
        named = ", ".join(suites) if suites else "none"
        raise fields.error(
            f"{where}.suite {suite!r} is not a suite of the plan's [suites] table (named: {named})"
        )
    known = available_learners()
    learners = fields.required("learners")
    if (
        not isinstance(learners, list)
        or not learners
        or not all(isinstance(n, str) for n in learners)
    ):
        raise fields.error(f"{where}.learners must be a non-empty list of learner names")
    unknown = [name for name in learners if name not in known]
    if unknown:
        raise fields.error(
            f"{where}.learners: no learner named {unknown[0]!r}; known: {', '.join(known)}"
        )
    if len(set(learners)) != len(learners):
        raise fields.error(f"{where}.learners names a learner twice: {learners}")
    configs = fields.integer("configs", 1, default=None)
    if configs is None:
        raise fields.error(f"{where}.configs is missing")
    row_cap = fields.integer("row_cap", 0, default=KbStep.row_cap)
    if row_cap is not None and 0 < row_cap < _MIN_ROW_CAP:
        raise fields.error(
            f"{where}.row_cap must be 0 (all rows) or >= {_MIN_ROW_CAP}, got {row_cap}"
        )
    time_limit = table.get("time_limit", KbStep.time_limit)
    if isinstance(time_limit, bool) or not isinstance(time_limit, int | float) or time_limit <= 0:
        raise fields.error(f"{where}.time_limit must be seconds > 0, got {time_limit!r}")
    seeds = table.get("seeds", list(KbStep.seeds))
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise fields.error(
            f"{where}.seeds must be a non-empty list of distinct integers >= 0, got {seeds!r}"
        )
    sampler = table.get("sampler", KbStep.sampler)
    if sampler not in _SAMPLERS:
        raise fields.error(
            f"{where}.sampler must be one of {', '.join(_SAMPLERS)}; got {sampler!r}"
        )
    scale = table.get("scale", KbStep.scale)
    if "scale" in table and sampler != "local":
        raise fields.error(f'{where}.scale is the local sampler\'s; set sampler = "local" too')
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 1:
        raise fields.error(f"{where}.scale must be a fraction in (0, 1], got {scale!r}")
    return KbStep(
        learners=tuple(learners),
        configs=configs,
        tasks=fields.integer("tasks", 1),
        min_rows=fields.integer("min_rows", 1),
        folds=fields.integer("folds", 2, default=KbStep.folds) or KbStep.folds,
        row_cap=row_cap or 0,
        time_limit=float(time_limit),
        seeds=tuple(seeds),
        suite=suite,
        sampler=sampler,
        scale=float(scale),
    )


def load_kb_plan(path: Path) -> KbPlan:
    """Read and check a plan file.

    Args:
        path: The TOML file.

    Returns:
        The plan, with the defaults of absent optional step fields filled in.

    Raises:
        InvalidRequestError: The file is missing, is not TOML, or breaks a rule;
            the message names the file, the field and what is allowed.
    """
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidRequestError(
            f"no plan file at {path}: give --plan PATH (the shipped one is kb/plan.toml)"
        ) from None
    except IsADirectoryError:
        raise InvalidRequestError(f"plan {path} is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequestError(f"plan {path} is not valid TOML: {exc}") from None
    fields = _Fields(path, "", data, _PLAN_KEYS)
    kinds = [kind for kind, _ in available_suite_kinds()]
    suite = fields.text("suite", kinds)
    version = fields.text("feature_version", [FEATURE_VERSION])
    suites = _suites(fields, kinds)
    steps = fields.required("steps")
    if not isinstance(steps, list) or not steps:
        raise fields.error("steps must be a non-empty array of tables ([[steps]])")
    plan = KbPlan(
        path=path,
        suite=suite,
        feature_version=version,
        steps=tuple(_step(path, i, table, suites) for i, table in enumerate(steps)),
        suites=suites,
    )
    if "probes" not in data:
        return plan
    return replace(plan, probes=_probes(path, data["probes"], plan.learners))


def split_suite_options(values: list[str] | tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Split a build's ``--suite`` options into the plan's suite and its further suites.

    Args:
        values: ``KIND:PATH`` once (the plan's own suite) and ``NAME=KIND:PATH``
            for each further suite of the plan's ``[suites]`` table.

    Returns:
        The plan's suite spec, and the further suites' specs by name.

    Raises:
        InvalidRequestError: No unnamed suite or more than one, or a name given twice.
    """
    main: list[str] = []
    named: dict[str, str] = {}
    for value in values:
        name, sep, spec = value.partition("=")
        if sep and SUITE_NAME.fullmatch(name):
            if name in named:
                raise InvalidRequestError(f"--suite {name}=... is given twice")
            named[name] = spec
        else:
            main.append(value)
    if len(main) != 1:
        raise InvalidRequestError(
            "give the plan's suite once as --suite KIND:PATH (further suites of the plan as "
            f"--suite NAME=KIND:PATH); got {len(main)} without a name: {main}"
        )
    return main[0], named
