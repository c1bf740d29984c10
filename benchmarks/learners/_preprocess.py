"""Shared preprocessing: from a raw DataFrame to the numeric matrix a model needs.

Every learner's pipeline starts with :class:`CleanFrame`, which fixes what
raw tables throw at a model (±inf, mixed-type categorical columns, non-string
column names), then a ColumnTransformer chosen by the model's needs:

- ``"native_missing"`` (LightGBM, histogram gradient boosting): numeric
  columns pass through with NaN kept, since the model learns where missing
  values go (columns with no value at all are dropped); categoricals are
  ordinal-encoded.
- ``"imputed"`` (random forest, extra trees): median imputation plus missing
  indicators; categoricals ordinal-encoded.
- ``"scaled"`` (SVM, logistic regression, k-NN, MLP): median imputation plus
  missing indicators, then standard scaling; categoricals one-hot encoded.

Ordinal codes are treated as numbers by the tree models (no native categorical
splits); a category unseen in fit is encoded as -1 (ordinal) or all zeros
(one-hot). A missing categorical value is a category of its own.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from warmstart.metamodel.errors import InvalidRequestError

__all__ = ["MISSING_CATEGORY", "CleanFrame", "PreprocessKind", "make_preprocessor"]

PreprocessKind = Literal["native_missing", "imputed", "scaled"]

MISSING_CATEGORY = "<missing>"
"""The category a missing value of a categorical column becomes."""

MAX_ONE_HOT_CATEGORIES = 32
"""One-hot columns per categorical feature; rarer categories share one column."""


def _is_numeric(column: pd.Series) -> bool:
    dtype = column.dtype
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


class CleanFrame(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Normalise a raw table: positional string column names and two clean dtypes.

    Numeric columns (bool excluded) become float64 with ±inf replaced by NaN;
    every other column becomes object dtype holding strings, with missing values
    as :data:`MISSING_CATEGORY`. Which columns are numeric is decided in
    ``fit`` and kept for ``transform``. NumPy arrays are accepted as well.
    """

    def fit(self, X: Any, y: Any = None) -> CleanFrame:
        """Learn the column count and which columns are numeric."""
        frame = self._as_frame(X)
        self.n_columns_ = frame.shape[1]
        self.numeric_ = [_is_numeric(frame.iloc[:, i]) for i in range(frame.shape[1])]
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        """Return the cleaned frame (columns ``f0``, ``f1``, ...)."""
        check_is_fitted(self, "numeric_")
        frame = self._as_frame(X)
        if frame.shape[1] != self.n_columns_:
            raise InvalidRequestError(
                f"X has {frame.shape[1]} columns but the estimator was fitted on {self.n_columns_}"
            )
        columns: dict[str, Any] = {}
        for i, numeric in enumerate(self.numeric_):
            column = frame.iloc[:, i]
            if numeric:
                values = pd.to_numeric(column, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                values = np.where(np.isfinite(values), values, np.nan)
                columns[f"f{i}"] = values
            else:
                raw = column.astype(object)
                text = raw.astype(str).to_numpy(dtype=object)
                text[pd.isna(raw).to_numpy()] = MISSING_CATEGORY
                columns[f"f{i}"] = text
        return pd.DataFrame(columns, index=frame.index)

    @staticmethod
    def _as_frame(X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        array = np.asarray(X)
        if array.ndim != 2:
            raise InvalidRequestError(f"X must be 2-dimensional, got shape {array.shape}")
        return pd.DataFrame(array)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray[Any, Any]:
        """Return the positional column names ``f0``, ``f1``, ..."""
        check_is_fitted(self, "numeric_")
        return np.array([f"f{i}" for i in range(self.n_columns_)], dtype=object)


class DropAllMissing(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Drop numeric columns that have no value at all in fit.

    Histogram gradient boosting cannot bin a column without a single value;
    such a column carries no information for any model anyway.
    """

    def fit(self, X: Any, y: Any = None) -> DropAllMissing:
        """Remember which columns have at least one value."""
        self.keep_ = ~np.isnan(np.asarray(X, dtype=np.float64)).all(axis=0)
        return self

    def transform(self, X: Any) -> np.ndarray[Any, Any]:
        """Return the kept columns."""
        check_is_fitted(self, "keep_")
        return np.asarray(X, dtype=np.float64)[:, self.keep_]


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns if frame[c].dtype == np.float64]


def _categorical_columns(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns if frame[c].dtype != np.float64]


def _imputer() -> SimpleImputer:
    # keep_empty_features: an all-NaN column becomes zeros instead of vanishing,
    # so the column count does not depend on which rows a fold happened to get.
    return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)


def make_preprocessor(kind: PreprocessKind) -> Pipeline:
    """Build the preprocessing pipeline for one kind of model.

    Args:
        kind: ``"native_missing"``, ``"imputed"`` or ``"scaled"`` (see the module doc).

    Returns:
        An unfitted pipeline producing a dense float64 matrix.
    """
    numeric: Any
    categorical: Any
    if kind == "native_missing":
        numeric = DropAllMissing()
    elif kind == "imputed":
        numeric = _imputer()
    elif kind == "scaled":
        numeric = Pipeline([("impute", _imputer()), ("scale", StandardScaler())])
    else:
        raise InvalidRequestError(
            f"preprocessing kind must be 'native_missing', 'imputed' or 'scaled', got {kind!r}"
        )
    if kind == "scaled":
        categorical = OneHotEncoder(
            handle_unknown="ignore",
            max_categories=MAX_ONE_HOT_CATEGORIES,
            sparse_output=False,
            dtype=np.float64,
        )
    else:
        categorical = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float64
        )
    columns = ColumnTransformer(
        [
            ("categorical", categorical, _categorical_columns),
            ("numeric", numeric, _numeric_columns),
        ],
        remainder="drop",
        sparse_threshold=0.0,
        verbose_feature_names_out=False,
    )
    return Pipeline([("clean", CleanFrame()), ("columns", columns)])
