"""The knowledge base's plan file: loading, checking, and the shipped one; its layout."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

import warmstart
from tests.benchmarks.kb_plan import PLAN
from warmstart.benchmarks.kb import KbStep, default_kb_dir, load_kb_plan, split_suite_options
from warmstart.benchmarks.learners import available_learners
from warmstart.benchmarks.runner import Protocol
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION

REPO = Path(__file__).resolve().parents[2]


def _plan_with(old: str, new: str) -> str:
    assert old in PLAN
    return PLAN.replace(old, new, 1)


def _with_suites(entries: str) -> str:
    """The plan with a [suites] table (TOML: after the top-level keys, before the steps)."""
    return _plan_with("\n[[steps]]", f"\n[suites]\n{entries}\n\n[[steps]]")


BAD_PLANS = [
    (None, "no plan file at"),
    ("suite = 'sklearn'\n[[steps]\n", "is not valid TOML"),
    (_plan_with('["knn", "logistic_regression"]', '["knn", "xgboost"]'), "no learner named"),
    (_plan_with('["knn", "logistic_regression"]', '["knn", "knn"]'), "names a learner twice"),
    (_plan_with("configs = 2", "configs = -2"), "steps[0].configs must be an integer >= 1, got -2"),
    (_plan_with("tasks = 2", "tasks = -1"), "steps[1].tasks must be an integer >= 1, got -1"),
    (
        _plan_with("tasks = 2", "tasks = 2\nmin_rows = 0"),
        "steps[1].min_rows must be an integer >= 1, got 0",
    ),
    (
        _plan_with("folds = 2", "fold = 2"),
        "unknown key 'fold' in steps[0]; allowed keys: suite, learners",
    ),
    (_plan_with("suite =", "suit ="), "unknown key 'suit'; allowed keys: suite"),
    (_plan_with("folds = 2\n", 'folds = 2\nsuite = "large"\n'), "steps[0].suite 'large' is not"),
    ('suites = "sklearn"\n' + PLAN, 'suites must be a table of name = "kind"'),
    (_with_suites("large = 'csv'"), "suites.large must be one of"),
    (_with_suites("'a:b' = 'sklearn'"), "suites: 'a:b' is not a suite name"),
    (_with_suites("sklearn = 'sklearn'"), "suites.sklearn: the plan's own suite needs"),
    (_plan_with('"mf-1"', '"mf-9"'), "feature_version must be one of mf-1; got 'mf-9'"),
    (_plan_with("configs = 2\n", ""), "steps[0].configs is missing"),
    (_plan_with("folds = 2\n", "folds = 2\nseeds = [-1]\n"), "steps[0].seeds must be"),
    (_plan_with("folds = 2\n", "folds = 2\nrow_cap = 5\n"), "steps[0].row_cap must be 0"),
    (_plan_with("folds = 2\n", "folds = 2\ntime_limit = 0\n"), "steps[0].time_limit must be"),
    ('suite = "sklearn"\nfeature_version = "mf-1"\nsteps = []\n', "steps must be a non-empty"),
    ("probes = 3\n" + PLAN, "probes must be a table ([probes])"),
    (PLAN + "[probes]\nlearners = ['svm']\n", "probes.learners: 'svm' is not evaluated by any"),
    (PLAN + "[probes]\nlearners = []\n", "probes.learners must be a non-empty list"),
    (PLAN + "[probes]\nlearners = ['knn', 'knn']\n", "probes.learners names a learner twice"),
    (PLAN + "[probes]\nlearners = ['knn']\nread = 0\n", "probes.read must be an integer >= 1"),
    (
        PLAN + "[probes]\nlearners = ['knn']\ncandidates = 2\nread = 3\n",
        "probes.read (3) must be at most probes.candidates (2)",
    ),
    (PLAN + "[probes]\nlearners = ['knn']\nrows = 9\n", "unknown key 'rows' in probes"),
    (
        _plan_with("folds = 2\n", "folds = 2\nsampler = 'lhs'\n"),
        "steps[0].sampler must be one of sobol, local; got 'lhs'",
    ),
    (
        _plan_with("folds = 2\n", "folds = 2\nscale = 0.2\n"),
        "steps[0].scale is the local sampler's",
    ),
    (
        _plan_with("folds = 2\n", "folds = 2\nsampler = 'local'\nscale = 1.5\n"),
        "steps[0].scale must be a fraction in (0, 1], got 1.5",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_PLANS)
def test_a_bad_plan_is_refused_naming_the_file_and_the_problem(
    text: str | None, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "plan.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InvalidRequestError) as caught:
        load_kb_plan(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_plan_names_the_spaces_whose_models_read_probes(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN + "[probes]\nlearners = ['knn']\n")
    plan = load_kb_plan(path)
    assert plan.probes is not None
    assert (plan.probes.candidates, plan.probes.read) == (8, 4)
    assert (plan.probes_read("knn"), plan.probes_read("logistic_regression")) == (4, 0)
    path.write_text(PLAN)
    assert load_kb_plan(path).probes_read("knn") == 0


def test_a_plan_loads_with_the_defaults_filled_in(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN)
    plan = load_kb_plan(path)
    assert (plan.path, plan.suite, plan.feature_version) == (path, "sklearn", FEATURE_VERSION)
    assert plan.learners == ["knn", "logistic_regression"]
    assert plan.steps[1] == KbStep(learners=("knn",), configs=3, tasks=2, folds=2)
    assert plan.to_dict()["steps"][1] == {
        "learners": ["knn"],
        "configs": 3,
        "tasks": 2,
        "folds": 2,
        "row_cap": 2000,
        "time_limit": 120.0,
        "seeds": [0],
    }
    spec = plan.steps[1].spec("sklearn:iris", ("knn",), shard=(1, 2))
    assert (spec.suite, spec.learners, spec.n_configs, spec.max_tasks) == (
        "sklearn:iris",
        ["knn"],
        3,
        2,
    )
    assert (spec.protocol, spec.shard) == (Protocol(folds=2, row_cap=2000), (1, 2))


def test_a_local_step_samples_around_the_default(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(_plan_with("folds = 2\n", "folds = 2\nsampler = 'local'\nscale = 0.2\n"))
    step = load_kb_plan(path).steps[0]
    assert (step.sampler, step.scale) == ("local", 0.2)
    assert "around the default (scale 0.2)" in step.describe()
    assert step.to_dict()["sampler"] == "local"
    spec = step.spec("sklearn:iris")
    assert (spec.sampler, spec.scale) == ("local", 0.2)


def test_a_step_runs_on_a_further_suite_that_the_plan_names(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(
        _with_suites("large = 'sklearn'")
        + '\n[[steps]]\nsuite = "large"\nlearners = ["knn"]\nconfigs = 2\n'
    )
    plan = load_kb_plan(path)
    assert plan.suites == {"large": "sklearn"}
    assert (plan.steps[2].suite, plan.steps[0].suite) == ("large", None)
    assert (plan.steps_on("large"), plan.steps_on(None)) == ([2], [0, 1])
    assert plan.to_dict()["suites"] == {"large": "sklearn"}
    assert plan.to_dict()["steps"][2]["suite"] == "large"
    assert "suite" not in plan.to_dict()["steps"][0]
    assert "of suite large" in plan.steps[2].describe()


def test_build_suite_options_split_into_the_plan_suite_and_named_ones() -> None:
    assert split_suite_options(["pmlb:/a", "big=pmlb:/b"]) == ("pmlb:/a", {"big": "pmlb:/b"})
    # A suite's own arguments may hold "=": only NAME= before the kind names a suite.
    assert split_suite_options(["files:/t,target=y"]) == ("files:/t,target=y", {})
    with pytest.raises(InvalidRequestError, match="got 0 without a name"):
        split_suite_options(["big=pmlb:/b"])
    with pytest.raises(InvalidRequestError, match="got 2 without a name"):
        split_suite_options(["pmlb:/a", "pmlb:/b"])
    with pytest.raises(InvalidRequestError, match=r"--suite big=\.\.\. is given twice"):
        split_suite_options(["pmlb:/a", "big=pmlb:/b", "big=pmlb:/c"])


def test_the_shipped_plan_loads_and_names_only_known_learners() -> None:
    plan = load_kb_plan(REPO / "kb" / "plan.toml")
    assert plan.suite == "pmlb"
    assert plan.feature_version == FEATURE_VERSION
    assert set(plan.learners) <= set(available_learners())
    assert len(plan.learners) == 8
    first = plan.steps[0]
    assert (first.learners, first.configs, first.tasks) == (("lightgbm",), 101, 169)
    assert plan.suites == {"pmlb-large": "pmlb"}
    sampled, sized = plan.steps[:9], plan.steps[9:-2]
    local, local_sized = plan.steps[-2], plan.steps[-1]
    assert all(
        (s.folds, s.row_cap, s.time_limit, s.seeds, s.suite) == (3, 2000, 120.0, (0,), None)
        for s in sampled
    )
    # Data size: LightGBM configs at all rows and at 8,000 of the suite's larger tasks, then
    # at 2,000, 8,000, 32,000 and 120,000 rows of the larger tables of pmlb-large.
    assert [(s.learners, s.suite, s.configs, s.min_rows, s.row_cap) for s in sized] == [
        (("lightgbm",), None, 32, 2001, 0),
        (("lightgbm",), None, 32, 16001, 8000),
        (("lightgbm",), "pmlb-large", 32, None, 2000),
        (("lightgbm",), "pmlb-large", 32, 8001, 8000),
        (("lightgbm",), "pmlb-large", 12, 32001, 32000),
        (("lightgbm",), "pmlb-large", 8, 100001, 120000),
    ]
    # Then LightGBM configs around its default, on the first step's tasks and protocol.
    assert (local.learners, local.configs, local.tasks, local.row_cap) == (
        ("lightgbm",),
        64,
        169,
        2000,
    )
    assert (local.sampler, local.scale, local.suite) == ("local", 0.25, None)
    # And all 64 of them at all rows of the tasks over 2,000 rows: the same design
    # (sampler, scale, seed), so they are the same configs, at the size users train on.
    assert (
        local_sized.learners,
        local_sized.configs,
        local_sized.min_rows,
        local_sized.row_cap,
        local_sized.sampler,
        local_sized.scale,
    ) == (("lightgbm",), 64, 2001, 0, "local", 0.25)


def test_default_kb_dir_is_kb_of_the_source_tree_which_the_wheel_ships() -> None:
    kb = default_kb_dir()
    assert kb == REPO / "kb"
    assert (kb / "pmlb_records.parquet").is_file()
    # The wheel's copy is the package data under warmstart/kb, a link to the same folder.
    assert (Path(warmstart.__file__).parent / "kb").resolve() == kb


def test_the_wheel_ships_every_file_of_the_knowledge_base() -> None:
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["warmstart"]
    kb = REPO / "kb"
    for path in kb.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        relative = "kb/" + path.relative_to(kb).as_posix()
        assert any(fnmatch(relative, p) for p in package_data), f"{relative} is not shipped"
