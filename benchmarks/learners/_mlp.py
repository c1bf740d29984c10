"""A PyTorch multi-layer perceptron as a scikit-learn estimator.

Inputs reach it median-imputed and standard-scaled (numeric) and one-hot
encoded (categorical) by the shared preprocessing; the regression target is
standardised inside :meth:`TorchMLPRegressor.fit` and mapped back on predict.

Determinism on CPU: everything random (initialisation, dropout, shuffling)
draws from torch seeded with ``seed`` inside ``fit``, in a forked RNG state
so the caller's global torch RNG is untouched; shuffling uses its own
``torch.Generator``. NumPy's and Python's global RNGs are never used, so they
are not touched either. Deterministic algorithms are switched on and
``n_threads`` set for the duration of each call, then restored. The same
seed, data and ``n_threads`` give bit-identical predictions.

A run that diverges (non-finite loss or weights) stops, sets ``diverged_``
to True and predicts the training class priors (classification) or the
training target mean (regression); it never raises.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from warmstart.benchmarks.learners._mlp_space import mlp_space
from warmstart.benchmarks.learners._mlp_train import TrainResult, build_network, train_network
from warmstart.metamodel.spaces import default_config
from warmstart.metamodel.types import ConfigValue

__all__ = ["TorchMLPClassifier", "TorchMLPRegressor"]

_PREDICT_BATCH = 8192


@contextlib.contextmanager
def _torch_settings(n_threads: int, seed: int | None) -> Iterator[None]:
    """Set torch's thread count, determinism and (optionally) seed; restore afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(n_threads)
    torch.use_deterministic_algorithms(True)
    try:
        if seed is None:
            yield
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)


class _TorchMLP(BaseEstimator):  # type: ignore[misc]
    """Shared fit/predict of the MLP estimators.

    After ``fit``: ``diverged_`` (bool) and ``result_`` (a ``TrainResult``).

    Args:
        config: A validated config of the ``mlp`` space.
        seed: Seed of every random choice in ``fit``.
        n_threads: Threads torch may use.
    """

    _classification: ClassVar[bool]

    def __init__(
        self, config: dict[str, ConfigValue] | None = None, seed: int = 0, n_threads: int = 1
    ) -> None:
        self.config = config
        self.seed = seed
        self.n_threads = n_threads

    def _fit_network(self, X: Any, target: torch.Tensor, n_outputs: int) -> None:
        config = dict(self.config) if self.config is not None else default_config(mlp_space())
        features = torch.as_tensor(np.nan_to_num(np.asarray(X, dtype=np.float32)))
        self.n_features_in_ = features.shape[1]
        self.net_: nn.Module | None = None
        self.result_ = TrainResult(epochs_run=0, steps_run=0, final_loss=math.nan, diverged=False)
        self.diverged_ = False
        if len(features) < 2:  # nothing to learn from; predict the fallback
            return
        with _torch_settings(self.n_threads, self.seed):
            net = build_network(config, features.shape[1], n_outputs)
            self.result_ = train_network(
                net, config, features, target, self._classification, self.seed
            )
        self.net_ = None if self.result_.diverged else net.eval()
        self.diverged_ = self.result_.diverged

    def _outputs(self, X: Any) -> np.ndarray[Any, Any] | None:
        """Raw network outputs as float64, or None when there is no trained network."""
        check_is_fitted(self, "result_")
        if self.net_ is None:
            return None
        features = torch.as_tensor(np.nan_to_num(np.asarray(X, dtype=np.float32)))
        parts = []
        with _torch_settings(self.n_threads, None), torch.no_grad():
            for chunk in torch.split(features, _PREDICT_BATCH):
                parts.append(self.net_(chunk).to(torch.float64).numpy())
        if not parts:
            return np.zeros((0, 1), dtype=np.float64)
        return np.concatenate(parts, axis=0)


class TorchMLPClassifier(ClassifierMixin, _TorchMLP):  # type: ignore[misc]
    """MLP classifier: softmax outputs trained with (label-smoothed) cross-entropy."""

    _classification: ClassVar[bool] = True

    def fit(self, X: Any, y: Any) -> TorchMLPClassifier:
        """Fit on ``X`` (numeric matrix) and labels ``y`` of any dtype."""
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        self.classes_ = classes
        self.priors_ = np.bincount(codes, minlength=len(classes)) / max(len(codes), 1)
        target = torch.as_tensor(codes.astype(np.int64))
        if len(classes) < 2:
            self.net_ = None
            self.result_ = TrainResult(0, 0, math.nan, diverged=False)
            self.diverged_ = False
            return self
        self._fit_network(X, target, len(classes))
        return self

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        """Return class probabilities, columns in ``classes_`` order."""
        logits = self._outputs(X)
        n_rows = len(X)
        if logits is None:
            return np.tile(self.priors_, (n_rows, 1))
        shifted = logits - logits.max(axis=1, keepdims=True)
        with np.errstate(over="ignore", invalid="ignore"):
            probs = np.exp(shifted)
            probs /= probs.sum(axis=1, keepdims=True)
        bad = ~np.isfinite(probs).all(axis=1)
        probs[bad] = self.priors_
        return np.asarray(probs, dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """Return the most probable class."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])


class TorchMLPRegressor(RegressorMixin, _TorchMLP):  # type: ignore[misc]
    """MLP regressor trained with squared error on the standardised target."""

    _classification: ClassVar[bool] = False

    def fit(self, X: Any, y: Any) -> TorchMLPRegressor:
        """Fit on ``X`` (numeric matrix) and float targets ``y``."""
        values = np.asarray(y, dtype=np.float64).ravel()
        mean = float(np.mean(values)) if len(values) else 0.0
        std = float(np.std(values)) if len(values) else 1.0
        self.y_mean_ = mean if math.isfinite(mean) else 0.0
        self.y_std_ = std if math.isfinite(std) and std > 0 else 1.0
        scaled = (values - self.y_mean_) / self.y_std_
        self._fit_network(X, torch.as_tensor(scaled, dtype=torch.float32).reshape(-1, 1), 1)
        return self

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """Return predictions on the target's original scale."""
        outputs = self._outputs(X)
        if outputs is None:
            return np.full(len(X), self.y_mean_, dtype=np.float64)
        predictions = outputs[:, 0] * self.y_std_ + self.y_mean_
        return np.where(np.isfinite(predictions), predictions, self.y_mean_)
