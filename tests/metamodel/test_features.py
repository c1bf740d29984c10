"""Meta-features: a fixed versioned list, defined or NaN on any data, sensible on real tasks."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification, make_regression

from tests.factories import require_pmlb
from warmstart.benchmarks.tasks import TaskData, load_suite
from warmstart.metamodel.errors import InvalidRequestError, NotFoundError
from warmstart.metamodel.features import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    compute_meta_features,
    describe_task,
    ensure_task_features,
)
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import TaskFeatures, TaskType

# Changing this list (names or order) or any computation means a new FEATURE_VERSION.
EXPECTED_NAMES = (
    "log_n_rows",
    "log_n_features",
    "feature_row_ratio",
    "n_classes",
    "categorical_share",
    "numeric_share",
    "missing_cell_share",
    "missing_row_share",
    "missing_column_share",
    "class_entropy",
    "minority_class_share",
    "majority_class_share",
    "minority_majority_ratio",
    "target_skewness",
    "target_kurtosis",
    "target_quartile_dispersion",
    "target_log_tail_ratio",
    "target_unique_share",
    "abs_skewness_mean",
    "abs_skewness_median",
    "abs_skewness_max",
    "kurtosis_mean",
    "kurtosis_median",
    "kurtosis_max",
    "outlier_column_share",
    "low_cardinality_share",
    "constant_column_share",
    "mean_abs_correlation",
    "max_abs_correlation",
    "pca_first_component_share",
    "pca_components_95",
    "pca_components_95_ratio",
    "feature_entropy_mean",
    "mutual_info_mean",
    "mutual_info_max",
    "equivalent_n_attributes",
    "noise_signal_ratio",
    "landmark_1nn",
    "landmark_stump",
    "landmark_tree_depth3",
    "landmark_naive_bayes",
    "landmark_linear",
)
LANDMARKERS = tuple(n for n in FEATURE_NAMES if n.startswith("landmark_"))
SHARES = tuple(
    n
    for n in FEATURE_NAMES
    if n.endswith(("_share", "_ratio")) and n not in ("noise_signal_ratio", "feature_row_ratio")
)


def check_shape(features: dict[str, float]) -> None:
    """Exactly the names, in order; every value a float, finite or NaN."""
    assert tuple(features) == FEATURE_NAMES
    for name, value in features.items():
        assert type(value) is float, name
        assert not math.isinf(value), name


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    return all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in FEATURE_NAMES)


def classification_frame(n: int = 300, p: int = 8, seed: int = 0) -> tuple[pd.DataFrame, Any]:
    X, y = make_classification(n, p, n_informative=min(p, 4), n_redundant=0, random_state=seed)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(p)]), y


# -- the list itself ---------------------------------------------------------------------------


def test_names_are_fixed_ordered_and_unique() -> None:
    assert FEATURE_NAMES == EXPECTED_NAMES
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in FEATURE_NAMES)


def test_version_is_a_short_tagged_string() -> None:
    assert re.fullmatch(r"mf-\d+", FEATURE_VERSION)


# -- ordinary data ------------------------------------------------------------------------------


def test_classification_values_are_finite_floats_in_range() -> None:
    X, y = classification_frame()
    features = compute_meta_features(X, y, TaskType.BINARY)
    check_shape(features)
    assert math.exp(features["log_n_rows"]) == pytest.approx(300)
    assert math.exp(features["log_n_features"]) == pytest.approx(8)
    assert features["n_classes"] == 2
    for name in SHARES:
        value = features[name]
        assert math.isnan(value) or 0.0 <= value <= 1.0, name
    for name in LANDMARKERS:
        assert 0.5 < features[name] <= 1.0, name  # the data carry signal
    regression_only = ("target_skewness", "target_kurtosis", "target_unique_share")
    assert all(math.isnan(features[n]) for n in regression_only)


def test_regression_target_features_and_r2_landmarkers() -> None:
    X, y = make_regression(400, 6, noise=5.0, random_state=1)
    features = compute_meta_features(X, y, "regression")
    check_shape(features)
    assert math.isnan(features["n_classes"])
    assert math.isnan(features["class_entropy"])
    assert math.isnan(features["landmark_naive_bayes"])
    assert features["target_unique_share"] == 1.0
    assert abs(features["target_skewness"]) < 1.0
    assert features["landmark_linear"] > 0.9  # a linear target
    for name in ("landmark_1nn", "landmark_stump", "landmark_tree_depth3"):
        assert -1.0 <= features[name] <= 1.0


def test_same_seed_same_values_and_seed_matters_for_samples() -> None:
    X, y = classification_frame(n=3000, p=12)
    first = compute_meta_features(X, y, "binary", seed=3, row_cap=500)
    again = compute_meta_features(X, y, "binary", seed=3, row_cap=500)
    assert same(first, again)
    other = compute_meta_features(X, y, "binary", seed=4, row_cap=500)
    assert not same(first, other)  # another sample of rows
    assert other["log_n_rows"] == first["log_n_rows"]


def test_numpy_input_and_string_task_type_match_dataframe_and_enum() -> None:
    X, y = classification_frame(n=200)
    from_frame = compute_meta_features(X, pd.Series(y), TaskType.BINARY)
    from_array = compute_meta_features(X.to_numpy(), y, "binary")
    assert same(from_frame, from_array)


def test_counts_come_from_the_whole_table_when_rows_are_sampled() -> None:
    X, y = make_classification(6000, 5, n_informative=3, weights=[0.97], flip_y=0, random_state=2)
    X[::7, 0] = np.nan
    features = compute_meta_features(X, y, "binary", row_cap=200)
    assert math.exp(features["log_n_rows"]) == pytest.approx(6000)
    assert features["missing_cell_share"] == pytest.approx(math.ceil(6000 / 7) / 30000)
    assert features["minority_class_share"] == pytest.approx(np.mean(y == 1))
    assert 0.5 <= features["landmark_linear"] <= 1.0  # the rare class survived sampling


def test_labels_unrelated_to_features_look_like_noise() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    y = rng.integers(0, 2, 600)
    features = compute_meta_features(X, y, "binary")
    assert features["mutual_info_mean"] < 0.02
    assert 0.35 < features["landmark_linear"] < 0.65
    assert 0.35 < features["landmark_1nn"] < 0.65


# -- odd data: never an exception, NaN where undefined ------------------------------------------


def test_constant_columns() -> None:
    X = pd.DataFrame({"a": [1.0] * 50, "b": [0] * 50, "c": ["x"] * 50})
    y = np.arange(50) % 2
    features = compute_meta_features(X, y, "binary")
    check_shape(features)
    assert features["constant_column_share"] == 1.0
    assert math.isnan(features["abs_skewness_mean"])
    assert math.isnan(features["mean_abs_correlation"])
    assert math.isnan(features["pca_first_component_share"])
    assert all(math.isnan(features[n]) for n in LANDMARKERS)
    assert features["mutual_info_mean"] == 0.0


def test_a_single_class() -> None:
    X, _ = classification_frame(n=80)
    features = compute_meta_features(X, np.zeros(80, dtype=int), "binary")
    check_shape(features)
    assert features["n_classes"] == 1
    assert math.isnan(features["class_entropy"])
    assert features["minority_class_share"] == features["majority_class_share"] == 1.0
    assert math.isnan(features["mutual_info_mean"])
    assert all(math.isnan(features[n]) for n in LANDMARKERS)


def test_nan_and_inf_values() -> None:
    X, y = classification_frame(n=120)
    X.iloc[::5, 0] = np.nan
    X.iloc[::3, 1] = np.inf
    X.iloc[1::3, 1] = -np.inf
    X.iloc[0, 2] = 1e308
    X.iloc[1, 2] = -1e308
    features = compute_meta_features(X, y, "binary")
    check_shape(features)
    assert features["missing_cell_share"] == pytest.approx(24 / (120 * 8))  # inf is not missing
    assert features["missing_row_share"] == pytest.approx(24 / 120)
    assert features["missing_column_share"] == pytest.approx(1 / 8)
    assert not math.isnan(features["abs_skewness_mean"])
    assert not math.isnan(features["landmark_linear"])


def test_a_column_full_of_nan() -> None:
    X, y = classification_frame(n=100, p=3)
    X["empty"] = np.nan
    features = compute_meta_features(X, y, "binary")
    check_shape(features)
    assert features["missing_column_share"] == 0.25
    assert features["constant_column_share"] == 0.25
    assert not math.isnan(features["landmark_tree_depth3"])


def test_categorical_object_and_boolean_columns() -> None:
    rng = np.random.default_rng(1)
    n = 150
    X = pd.DataFrame(
        {
            "colour": rng.choice(np.array(["red", "green", "blue", None], dtype=object), n),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], n)),
            "flag": rng.random(n) > 0.5,
            "maybe": pd.array(
                rng.choice(np.array([True, False, None], dtype=object), n), dtype="boolean"
            ),
            "text": pd.array(rng.choice(["a", "b"], n), dtype="string"),
            "numbers_as_objects": pd.Series(rng.normal(size=n), dtype=object),
            "x": rng.normal(size=n),
        }
    )
    y = np.where(X["flag"], "yes", "no")
    features = compute_meta_features(X, y, "binary")
    check_shape(features)
    assert features["categorical_share"] == pytest.approx(5 / 7)
    assert features["numeric_share"] == pytest.approx(2 / 7)
    assert features["missing_column_share"] == pytest.approx(2 / 7)
    assert features["landmark_stump"] == 1.0  # the flag is the label


@pytest.mark.parametrize("n_rows", [1, 2, 4])
def test_a_handful_of_rows(n_rows: int) -> None:
    X = pd.DataFrame({"a": np.arange(n_rows, dtype=float), "b": ["u", "v", "w", "x"][:n_rows]})
    for task_type, y in (("binary", np.arange(n_rows) % 2), ("regression", np.arange(n_rows))):
        features = compute_meta_features(X, y, task_type)
        check_shape(features)
        assert math.exp(features["log_n_rows"]) == pytest.approx(n_rows)
        assert all(math.isnan(features[n]) for n in LANDMARKERS)


def test_more_columns_than_rows() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 800))
    y = np.arange(30) % 3
    features = compute_meta_features(X, y, "multiclass")
    check_shape(features)
    assert features["feature_row_ratio"] == pytest.approx(800 / 30)
    assert features["pca_components_95"] <= 30
    assert not math.isnan(features["landmark_1nn"])


def test_too_many_classes_for_landmarkers() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 4))
    y = np.arange(600) % 150  # e.g. an id column declared as the label
    features = compute_meta_features(X, y, "multiclass")
    check_shape(features)
    assert features["n_classes"] == 150
    assert features["class_entropy"] == pytest.approx(1.0)
    assert all(math.isnan(features[n]) for n in LANDMARKERS)


def test_missing_targets_are_left_out_of_target_features() -> None:
    X, y = classification_frame(n=100)
    labels = pd.Series(np.where(y == 1, "pos", "neg"), dtype=object)
    labels[:10] = None
    features = compute_meta_features(X, labels, "binary")
    assert features["n_classes"] == 2
    assert math.exp(features["log_n_rows"]) == pytest.approx(100)
    values = np.arange(50, dtype=float)
    values[[3, 4]] = [np.nan, np.inf]
    regression = compute_meta_features(np.ones((50, 2)), values, "regression")
    assert regression["target_unique_share"] == 1.0


def test_a_constant_regression_target() -> None:
    X, _ = classification_frame(n=60)
    features = compute_meta_features(X, np.full(60, 3.5), "regression")
    check_shape(features)
    assert math.isnan(features["target_skewness"])
    assert math.isnan(features["target_log_tail_ratio"])
    assert all(math.isnan(features[n]) for n in LANDMARKERS)


# -- property test ------------------------------------------------------------------------------

COLUMN_KINDS = ("normal", "constant", "all_nan", "nan_inf", "huge", "object", "category", "bool")


@st.composite
def odd_tasks(draw: st.DrawFn) -> tuple[pd.DataFrame, Any, str]:
    n_rows = draw(st.integers(1, 40))
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    columns: dict[str, Any] = {}
    for j, kind in enumerate(kinds):
        if kind == "normal":
            column: Any = rng.normal(size=n_rows)
        elif kind == "constant":
            column = np.full(n_rows, 7.0)
        elif kind == "all_nan":
            column = np.full(n_rows, np.nan)
        elif kind == "nan_inf":
            column = rng.choice([0.0, 1.5, np.nan, np.inf, -np.inf], n_rows)
        elif kind == "huge":
            column = rng.choice([1e308, -1e308, 0.0, 1e-308], n_rows)
        elif kind == "object":
            column = pd.Series(
                rng.choice(np.array(["a", "b", "c", None], dtype=object), n_rows), dtype=object
            )
        elif kind == "category":
            column = pd.Categorical(rng.choice(["p", "q"], n_rows))
        else:
            column = rng.random(n_rows) > 0.5
        columns[f"c{j}"] = column
    task_type = draw(st.sampled_from(["binary", "multiclass", "regression"]))
    if task_type == "regression":
        y: Any = draw(
            st.sampled_from(
                [rng.normal(size=n_rows), np.zeros(n_rows), rng.choice([1e300, -1e300], n_rows)]
            )
        )
    else:
        y = rng.integers(0, draw(st.integers(1, 4)), n_rows)
    return pd.DataFrame(columns), y, task_type


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_tasks())
def test_any_small_odd_table_gives_every_feature(task: tuple[pd.DataFrame, Any, str]) -> None:
    X, y, task_type = task
    check_shape(compute_meta_features(X, y, task_type))


# -- bad input: explained errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "y", "task_type", "message"),
    [
        ([[1.0, 2.0]], [0], "binary", "X must be a pandas DataFrame or a 2-D numpy array"),
        (np.zeros(5), np.zeros(5), "binary", "X must be 2-D"),
        (np.zeros((0, 3)), np.zeros(0), "binary", "at least one row and one feature column"),
        (pd.DataFrame(index=range(3)), np.zeros(3), "binary", "at least one row"),
        (np.zeros((4, 2)), np.zeros(3), "binary", "same number of rows, got 4 and 3"),
        (np.zeros((4, 2)), np.zeros((4, 2)), "binary", "y must be 1-D"),
        (np.zeros((4, 2)), np.zeros(4), "ranking", "task_type must be one of"),
        (np.zeros((3, 2)), ["a", "b", "c"], "regression", "regression target must be numeric"),
        (np.zeros((3, 2), dtype=complex), np.zeros(3), "binary", "dtype complex128"),
    ],
)
def test_malformed_input_is_refused_with_a_reason(
    X: Any, y: Any, task_type: str, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        compute_meta_features(X, y, task_type)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"seed": 1.5}, "seed must be an integer >= 0"),
        ({"row_cap": 10}, "row_cap must be an integer >= 50, got 10"),
        ({"row_cap": True}, "row_cap must be an integer >= 50"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        compute_meta_features(np.zeros((5, 2)), np.zeros(5), "regression", **kwargs)


# -- real data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pmlb() -> Any:
    return load_suite(f"pmlb:{require_pmlb()}")


def test_balanced_multiclass_pmlb_task(pmlb: Any) -> None:
    data: TaskData = pmlb.load("iris")  # 150 rows, 4 features, 3 classes of 50
    features = compute_meta_features(data.X, data.y, data.task.task_type)
    check_shape(features)
    assert math.exp(features["log_n_rows"]) == pytest.approx(data.task.n_rows)
    assert math.exp(features["log_n_features"]) == pytest.approx(4)
    assert features["n_classes"] == 3
    assert features["class_entropy"] == pytest.approx(1.0)
    assert features["minority_majority_ratio"] == pytest.approx(1.0)
    assert features["equivalent_n_attributes"] == pytest.approx(1.9, abs=0.3)  # pymfe: 1.88
    for name in LANDMARKERS:
        assert 0.75 <= features[name] <= 1.0, name


def test_imbalanced_binary_pmlb_task(pmlb: Any) -> None:
    data: TaskData = pmlb.load("analcatdata_lawsuit")  # 264 rows, about 7% positive
    features = compute_meta_features(data.X, data.y, data.task.task_type)
    check_shape(features)
    assert features["n_classes"] == 2
    assert features["class_entropy"] < 0.5
    assert features["minority_class_share"] == pytest.approx(
        float(data.y.value_counts().min()) / 264
    )
    for name in LANDMARKERS:
        assert 0.5 <= features[name] <= 1.0, name


def test_regression_pmlb_task(pmlb: Any) -> None:
    data: TaskData = pmlb.load("1027_ESL")  # 488 rows, 4 features, a few distinct targets
    features = compute_meta_features(data.X, data.y, data.task.task_type)
    check_shape(features)
    assert math.exp(features["log_n_rows"]) == pytest.approx(488)
    assert features["target_unique_share"] == pytest.approx(data.y.nunique() / 488)
    assert 0.0 <= features["target_quartile_dispersion"] <= 1.0
    assert features["landmark_linear"] > 0.5
    for name in ("landmark_1nn", "landmark_stump", "landmark_tree_depth3", "landmark_linear"):
        assert -1.0 <= features[name] <= 1.0


# -- stored per task and feature version --------------------------------------------------------


def test_describe_task_carries_version_and_names() -> None:
    X, y = classification_frame(n=100)
    described = describe_task("t-1", X, y, "binary")
    assert described.version == FEATURE_VERSION
    assert described.names == FEATURE_NAMES
    assert same(described.as_dict(), compute_meta_features(X, y, "binary"))
    with pytest.raises(InvalidRequestError, match="task_id must be a non-empty string"):
        describe_task("", X, y, "binary")


def test_ensure_task_features_computes_once_then_reads_the_store(
    pmlb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data: TaskData = pmlb.load("haberman")
    calls: list[str] = []
    real = compute_meta_features

    def counting(*args: Any, **kwargs: Any) -> dict[str, float]:
        calls.append("computed")
        return real(*args, **kwargs)

    monkeypatch.setattr("warmstart.metamodel.features._task.compute_meta_features", counting)
    with RecordStore.open(f"sqlite:///{tmp_path / 'warmstart.db'}") as store:
        store.put_task(data.task)
        task_id = data.task.task_id
        with pytest.raises(NotFoundError):
            store.get_task_features(task_id, FEATURE_VERSION)
        first = ensure_task_features(store, task_id, data.X, data.y, data.task.task_type)
        second = ensure_task_features(store, task_id, data.X, data.y, data.task.task_type)
        assert calls == ["computed"]
        assert second.names == first.names == FEATURE_NAMES
        assert same(first.as_dict(), second.as_dict())
        stored = store.list_task_features(FEATURE_VERSION)
        assert set(stored) == {task_id}
        assert isinstance(stored[task_id], TaskFeatures)
        assert store.list_task_features("mf-0") == {}  # other versions are separate


def test_ensure_task_features_needs_the_task_in_the_store(tmp_path: Path) -> None:
    X, y = classification_frame(n=50)
    with (
        RecordStore.open(f"sqlite:///{tmp_path / 'warmstart.db'}") as store,
        pytest.raises(NotFoundError),
    ):
        ensure_task_features(store, "unknown-task", X, y, "binary")
