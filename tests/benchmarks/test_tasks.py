"""Tests of the task suites, on real data: PMLB files, sklearn's bundled sets, a cached ARFF."""

from __future__ import annotations

import gzip
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.factories import PMLB, require_pmlb
from warmstart.benchmarks.tasks import (
    FolderSuite,
    OpenMLSuite,
    SklearnSuite,
    SyntheticSuite,
    TaskData,
    available_suite_kinds,
    build_task_data,
    compute_task_id,
    infer_task_type,
    load_suite,
    parse_suite_spec,
    read_arff,
)
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError, NotFoundError
from warmstart.metamodel.types import TaskType

OPENML_CACHE = Path(__file__).parent / "data" / "openml"
# Pinned so that a change to the id scheme (or to pandas' hashing) cannot go unnoticed:
# ids are keys in every store.
PMLB_IRIS_ID = "0ce731006b74258f"


@pytest.fixture(scope="module")
def pmlb() -> FolderSuite:
    suite = load_suite(f"pmlb:{require_pmlb()}")
    assert isinstance(suite, FolderSuite)
    return suite


def _mixed_frame() -> pd.DataFrame:
    """A small table with numbers, strings, missing values and a string target."""
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "size": rng.normal(size=n).round(3),
            "count": rng.integers(0, 9, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "weight": np.where(np.arange(n) % 7 == 0, np.nan, rng.normal(size=n).round(3)),
            "target": rng.choice(["yes", "no"], size=n),
        }
    )


# --- PMLB / folder suites -------------------------------------------------------------


def test_pmlb_manifest_lists_every_task_with_family(pmlb: FolderSuite) -> None:
    infos = pmlb.list_tasks()
    assert len(infos) == 215
    assert len({i.name for i in infos}) == 215
    assert all(i.family and i.n_rows and i.n_features for i in infos)
    assert all(i.task_type is not None and i.synthetic is not None for i in infos)
    by_name = {i.name: i for i in infos}
    assert by_name["195_auto_price"].family == by_name["207_autoPrice"].family == "autoprice"
    assert by_name["iris"].task_type is TaskType.MULTICLASS
    assert by_name["iris"].n_classes == 3
    assert by_name["1027_ESL"].task_type is TaskType.REGRESSION
    assert len({i.family for i in infos}) < 215  # near-duplicates share a family
    assert "215 tasks" in pmlb.describe()


@pytest.mark.parametrize(
    ("name", "task_type", "n_classes", "family"),
    [
        ("iris", TaskType.MULTICLASS, 3, "iris"),
        ("analcatdata_boxing1", TaskType.BINARY, 2, "boxing"),
        ("519_vinnie", TaskType.REGRESSION, None, "519_vinnie"),
    ],
)
def test_pmlb_loads_small_datasets(
    pmlb: FolderSuite,
    name: str,
    task_type: TaskType,
    n_classes: int | None,
    family: str,
) -> None:
    info = {i.name: i for i in pmlb.list_tasks()}[name]
    data = pmlb.load(name)
    task = data.task
    assert task.name == f"pmlb/{name}"
    assert task.source == "pmlb"
    assert task.family == family
    assert task.task_type is task_type
    assert task.n_classes == n_classes
    assert (task.n_rows, task.n_features) == (info.n_rows, info.n_features)
    assert data.X.shape == (task.n_rows, task.n_features)
    assert "target" not in data.X.columns
    assert data.y.name == "target"
    assert len(task.task_id) == 16
    assert task.stats["missing_fraction"] == 0.0
    if task_type is TaskType.REGRESSION:
        assert task.stats["target_std"] > 0
    else:
        assert n_classes is not None
        assert 0 < task.stats["minority_class_fraction"] <= 1 / n_classes


def test_task_id_is_stable_and_content_derived(pmlb: FolderSuite, tmp_path: Path) -> None:
    first, second = pmlb.load("iris"), pmlb.load("iris")
    assert first.task.task_id == second.task.task_id == PMLB_IRIS_ID
    # Same content elsewhere, under another name: same id.
    shutil.copy(PMLB / "iris.tsv.gz", tmp_path / "my_iris.tsv.gz")
    copy = FolderSuite(tmp_path).load("my_iris")
    assert copy.task.task_id == PMLB_IRIS_ID
    assert copy.task.name == "files/my_iris"
    assert copy.task.source == "files"
    # One changed value: another id.
    frame = pd.read_csv(PMLB / "iris.tsv.gz", sep="\t")
    frame.loc[3, "sepal-width"] += 0.1
    frame.to_csv(tmp_path / "changed.csv", index=False)
    assert FolderSuite(tmp_path).load("changed").task.task_id != PMLB_IRIS_ID


def test_task_id_ignores_index_but_not_column_names_or_order() -> None:
    frame = _mixed_frame()
    X, y = frame.drop(columns="target"), frame["target"]
    base = compute_task_id(X, y)
    assert compute_task_id(X.set_axis(range(100, 140)), y.set_axis(range(100, 140))) == base
    assert compute_task_id(X.astype({"colour": "category"}), y) == base
    assert compute_task_id(X.rename(columns={"size": "Size"}), y) != base
    assert compute_task_id(X[list(reversed(X.columns))], y) != base
    assert compute_task_id(X, y.rename("label")) != base


def test_every_file_format_loads_the_same(tmp_path: Path) -> None:
    frame = _mixed_frame()
    frame.to_csv(tmp_path / "as_csv.csv", index=False)
    frame.to_csv(tmp_path / "as_tsv.tsv", sep="\t", index=False)
    frame.to_csv(tmp_path / "as_csv_gz.csv.gz", index=False)
    frame.to_csv(tmp_path / "as_tsv_gz.tsv.gz", sep="\t", index=False)
    frame.to_parquet(tmp_path / "as_parquet.parquet", index=False)
    (tmp_path / "README.md").write_text("not a table\n")
    suite = load_suite(f"files:{tmp_path}")
    names = suite.task_names()
    assert names == ["as_csv", "as_csv_gz", "as_parquet", "as_tsv", "as_tsv_gz"]
    loaded = [suite.load(name) for name in names]
    assert len({d.task.task_id for d in loaded}) == 1
    for data in loaded[1:]:
        pd.testing.assert_frame_equal(data.X, loaded[0].X)
        pd.testing.assert_series_equal(data.y, loaded[0].y)
    task = loaded[0].task
    assert task.task_type is TaskType.BINARY
    assert task.n_features == 4
    assert task.stats["categorical_fraction"] == 0.25
    assert task.stats["missing_fraction"] > 0
    assert loaded[0].X["weight"].isna().sum() == 6  # kept as they were, not imputed
    assert not pd.api.types.is_numeric_dtype(loaded[0].X["colour"])  # not encoded


def test_manifest_task_column_overrides_inference(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(30) % 4, "target": np.arange(30) % 5})
    frame.to_csv(tmp_path / "counts.csv", index=False)
    frame.to_csv(tmp_path / "levels.csv", index=False)
    (tmp_path / "manifest.csv").write_text("name,task,family\ncounts,regression,fam\nlevels,,\n")
    suite = FolderSuite(tmp_path)
    counts, levels = suite.load("counts").task, suite.load("levels").task
    assert counts.task_type is TaskType.REGRESSION
    assert counts.n_classes is None
    assert counts.family == "fam"
    assert levels.task_type is TaskType.MULTICLASS  # inferred: 5 integer labels
    assert levels.family == "levels"


def test_listing_reads_no_data_and_load_names_the_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "broken.csv.gz").write_bytes(b"this is not gzip data")
    (tmp_path / "broken2.parquet").write_bytes(b"PAR1 nonsense")
    (tmp_path / "manifest.csv").write_text(
        "name,task,n_rows,n_features,n_classes,family,synthetic,file\n"
        "broken,classification,10,3,2.0,b,0,broken.csv.gz\n"
        "broken2,regression,10,3,,b,1,broken2.parquet\n"
        "gone,regression,10,3,,g,0,gone.csv\n"
    )
    suite = FolderSuite(tmp_path)
    infos = suite.list_tasks()
    assert [i.name for i in infos] == ["broken", "broken2", "gone"]
    assert infos[0].task_type is TaskType.BINARY
    assert infos[1].synthetic is True
    with pytest.raises(InvalidRequestError, match=r"broken\.csv\.gz"):
        suite.load("broken")
    with pytest.raises(InvalidRequestError, match=r"broken2\.parquet"):
        suite.load("broken2")
    with pytest.raises(InvalidRequestError, match=r"gone\.csv.*does not exist"):
        suite.load("gone")


def test_unknown_task_name_lists_valid_names(tmp_path: Path) -> None:
    _mixed_frame().to_csv(tmp_path / "alpha.csv", index=False)
    suite = FolderSuite(tmp_path)
    with pytest.raises(NotFoundError, match=r"no task 'alpa'.*'alpha'"):
        suite.load("alpa")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "does not exist"),
        ("empty", "holds no"),
        ("no_target", "no target column 'target'; columns are 'a', 'b'"),
        ("one_class", "at least 2 distinct values"),
        ("no_features", "no feature columns"),
        ("empty_file", "empty"),
        ("bad_manifest", "n_rows must be a number"),
    ],
)
def test_folder_errors_say_what_is_wrong(tmp_path: Path, setup: str, message: str) -> None:
    folder = tmp_path / "suite"
    if setup != "missing":
        folder.mkdir()
    if setup == "no_target":
        pd.DataFrame({"a": [1, 2], "b": [0, 1]}).to_csv(folder / "t.csv", index=False)
    if setup == "one_class":
        pd.DataFrame({"a": [1, 2, 3], "target": [1, 1, None]}).to_csv(folder / "t.csv")
    if setup == "no_features":
        pd.DataFrame({"target": [0, 1, 0]}).to_csv(folder / "t.csv", index=False)
    if setup == "empty_file":
        (folder / "t.csv").write_text("")
    if setup == "bad_manifest":
        (folder / "manifest.csv").write_text("name,n_rows\nt,many\n")
    with pytest.raises(InvalidRequestError, match=message):
        FolderSuite(folder).load("t")


def test_pmlb_kind_needs_a_manifest(tmp_path: Path) -> None:
    _mixed_frame().to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InvalidRequestError, match=r"no manifest\.csv; use files:"):
        load_suite(f"pmlb:{tmp_path}")


def test_rows_without_target_are_dropped_and_target_column_configurable(tmp_path: Path) -> None:
    frame = _mixed_frame().rename(columns={"target": "label"})
    frame.loc[[2, 5], "label"] = None
    with gzip.open(tmp_path / "t.tsv.gz", "wt") as handle:
        frame.to_csv(handle, sep="\t", index=False)
    data = load_suite(f"files:{tmp_path},target=label,name=mine").load("t")
    assert data.task.n_rows == 38
    assert data.task.name == "mine/t"
    assert list(data.X.index) == list(range(38))
    assert data.y.notna().all()


# --- task type inference and building -------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.linspace(0, 1, 50), TaskType.REGRESSION),
        (np.arange(50) % 4 * 1.0, TaskType.MULTICLASS),
        (np.array([-1.0, 1.0] * 10), TaskType.BINARY),
        (np.arange(60) % 2, TaskType.BINARY),
        (np.arange(60) % 30, TaskType.MULTICLASS),
        (np.arange(200), TaskType.REGRESSION),
        (np.array(["a", "b", "c"] * 5), TaskType.MULTICLASS),
        (np.array([True, False] * 5), TaskType.BINARY),
    ],
)
def test_infer_task_type(values: np.ndarray, expected: TaskType) -> None:
    assert infer_task_type(pd.Series(values)) is expected


def test_build_task_data_honours_and_checks_an_explicit_type() -> None:
    X = pd.DataFrame({"a": np.arange(40.0)})
    many = pd.Series(np.linspace(0, 1, 40), name="target")
    as_classes = build_task_data(X, many, name="x/t", source="files", task_type="classification")
    assert as_classes.task.task_type is TaskType.MULTICLASS
    assert as_classes.task.n_classes == 40
    labels = pd.Series(["a", "b"] * 20, name="target")
    with pytest.raises(InvalidRequestError, match="regression target must be numeric"):
        build_task_data(X, labels, name="x/t", source="files", task_type="regression")
    with pytest.raises(InvalidRequestError, match="task type must be one of"):
        build_task_data(X, labels, name="x/t", source="files", task_type="ranking")
    built = build_task_data(X, labels, name="x/t", source="files")
    assert built.task.family == "t"
    assert built.task.stats["minority_class_fraction"] == 0.5


# --- scikit-learn, synthetic, OpenML --------------------------------------------------


def test_sklearn_suite_loads_bundled_datasets() -> None:
    suite = load_suite("sklearn")
    assert isinstance(suite, SklearnSuite)
    expected = {
        "iris": (TaskType.MULTICLASS, 3, "iris"),
        "wine": (TaskType.MULTICLASS, 3, "wine_recognition"),
        "breast_cancer": (TaskType.BINARY, 2, "breast"),
        "digits": (TaskType.MULTICLASS, 10, "optdigits"),
        "diabetes": (TaskType.REGRESSION, None, "sklearn_diabetes"),
    }
    infos = {i.name: i for i in suite.list_tasks()}
    assert set(infos) == set(expected)
    for data in suite:
        name = data.task.name.removeprefix("sklearn/")
        assert (data.task.task_type, data.task.n_classes, data.task.family) == expected[name]
        assert (data.task.n_rows, data.task.n_features) == (
            infos[name].n_rows,
            infos[name].n_features,
        )
        assert data.task.source == "sklearn"
    assert load_suite("sklearn:iris,wine").task_names() == ["iris", "wine"]
    with pytest.raises(InvalidRequestError, match="choose from iris, wine"):
        load_suite("sklearn:titanic")


def test_synthetic_suite_is_reproducible() -> None:
    first, second = SyntheticSuite(n=8, seed=3), load_suite("synthetic:n=8,seed=3")
    assert first.list_tasks() == second.list_tasks()
    loaded = first.load_all()
    for data in loaded:
        again = second.load(data.task.name.removeprefix("synthetic/"))
        assert again.task == data.task
        pd.testing.assert_frame_equal(again.X, data.X)
        pd.testing.assert_series_equal(again.y, data.y)
    other_seed = SyntheticSuite(n=8, seed=4).load_all()
    assert not {d.task.task_id for d in loaded} & {d.task.task_id for d in other_seed}
    # A smaller suite is a prefix of a larger one with the same seed.
    assert SyntheticSuite(n=3, seed=3).list_tasks() == first.list_tasks()[:3]


def test_synthetic_suite_varies_tasks_in_families() -> None:
    suite = SyntheticSuite(n=12, seed=0, per_family=3)
    infos = suite.list_tasks()
    families = [i.family for i in infos]
    assert len(set(families)) == 4
    assert all(families.count(f) == 3 for f in set(families))
    assert {i.task_type for i in infos} >= {TaskType.REGRESSION}
    assert any(i.task_type in (TaskType.BINARY, TaskType.MULTICLASS) for i in infos)
    for info in infos[:6]:
        data = suite.load(info.name)
        assert data.task.family == info.family
        assert data.task.source == "synthetic"
        assert data.task.n_classes == info.n_classes
        assert data.X.shape == (info.n_rows, info.n_features)
    with pytest.raises(InvalidRequestError, match="n must be in"):
        load_suite("synthetic:n=0")
    with pytest.raises(InvalidRequestError, match="seed must be an integer"):
        load_suite("synthetic:seed=abc")


def test_read_arff_keeps_declared_types() -> None:
    table = read_arff(OPENML_CACHE / "org/openml/www/datasets/61/dataset.arff")
    assert table.relation == "iris"
    assert table.kinds["class"] == "nominal"
    assert table.kinds["sepallength"] == "numeric"
    assert list(table.frame["class"].cat.categories) == [
        "Iris-setosa",
        "Iris-versicolor",
        "Iris-virginica",
    ]
    assert table.frame["colour"].isna().sum() == 6
    assert table.frame["petalwidth"].isna().sum() == 2


def test_openml_cache_loads_dataset_and_task() -> None:
    suite = load_suite(f"openml:ids=61,tasks=59,cache={OPENML_CACHE}")
    assert isinstance(suite, OpenMLSuite)
    assert [(i.name, i.family) for i in suite.list_tasks()] == [("d61", "iris"), ("t59", "iris")]
    by_dataset, by_task = suite.load("d61"), suite.load("t59")
    for data in (by_dataset, by_task):
        assert data.task.task_type is TaskType.MULTICLASS
        assert data.task.n_classes == 3
        assert data.task.family == "iris"
        assert data.task.source == "openml"
        # The row id and the ignored attribute are not features.
        assert list(data.X.columns) == [
            "sepallength",
            "sepalwidth",
            "petallength",
            "petalwidth",
            "colour",
        ]
        assert isinstance(data.X["colour"].dtype, pd.CategoricalDtype)
        assert data.task.stats["missing_fraction"] > 0
    assert by_dataset.task.task_id == by_task.task.task_id
    assert by_dataset.task.name == "openml/d61"


def test_openml_cache_target_option_and_missing_ids() -> None:
    regression = OpenMLSuite([61], cache=OPENML_CACHE, target="sepallength").load("d61")
    assert regression.task.task_type is TaskType.REGRESSION
    assert "class" in regression.X.columns
    with pytest.raises(NotFoundError, match="dataset 62 is not in the cache"):
        OpenMLSuite([62], cache=OPENML_CACHE).load("d62")
    with pytest.raises(NotFoundError, match="task 1 is not in the cache"):
        OpenMLSuite(task_ids=[1], cache=OPENML_CACHE).load("t1")
    with pytest.raises(InvalidRequestError, match="does not exist"):
        OpenMLSuite([61], cache=OPENML_CACHE / "nowhere")


@pytest.mark.skipif(
    importlib.util.find_spec("openml") is not None, reason="openml-python is installed"
)
def test_openml_without_openml_python_says_how_to_install() -> None:
    with pytest.raises(FailedPreconditionError, match=r"pip install 'warmstart\[openml\]'"):
        load_suite("openml:ids=61")


# --- spec strings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("sklearn", ("sklearn", {})),
        ("sklearn:iris,wine", ("sklearn", {"names": ["iris", "wine"]})),
        ("synthetic:n=5,seed=2", ("synthetic", {"n": ["5"], "seed": ["2"]})),
        ("files:/d,target=y", ("files", {"path": ["/d"], "target": ["y"]})),
        ("openml:61,554", ("openml", {"ids": ["61", "554"]})),
        (
            "openml:ids=61,tasks=59,60,cache=/c",
            ("openml", {"ids": ["61"], "tasks": ["59", "60"], "cache": ["/c"]}),
        ),
    ],
)
def test_parse_suite_spec(spec: str, expected: tuple[str, dict[str, list[str]]]) -> None:
    assert parse_suite_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kaggle:titanic", r"unknown suite kind 'kaggle'.*pmlb, files, sklearn, synthetic, openml"),
        ("synthetic:size=3", r"unknown option 'size' for synthetic; allowed: n, seed"),
        ("synthetic:5", "unexpected value '5'"),
        ("files", "files needs a folder"),
        ("synthetic:n=2,n=3", "n is given twice"),
        ("openml:tasks=x", "tasks must be an integer"),
        ("openml", "give dataset ids"),
    ],
)
def test_bad_specs_are_refused_with_the_allowed_forms(spec: str, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        load_suite(spec)


def test_available_suite_kinds_describe_each_kind() -> None:
    kinds = dict(available_suite_kinds())
    assert list(kinds) == ["pmlb", "files", "sklearn", "synthetic", "openml"]
    assert all("usage:" in text for text in kinds.values())


def test_suites_iterate_lazily(pmlb: FolderSuite) -> None:
    iterator = iter(pmlb)
    first = next(iterator)
    assert isinstance(first, TaskData)
    assert first.task.name == f"pmlb/{pmlb.task_names()[0]}"
