"""The pipeline every learner returns: preprocessing + model, under a thread limit.

Some models take a thread count (LightGBM, forests, torch); others use every
core through OpenMP or BLAS without asking (histogram gradient boosting, k-NN
distance reductions, lbfgs matrix products). Running each call of the pipeline
inside ``threadpoolctl.threadpool_limits`` keeps all of them at ``n_threads``.
"""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if
from threadpoolctl import threadpool_limits

from warmstart.benchmarks.learners._preprocess import PreprocessKind, make_preprocessor

__all__ = ["LearnerPipeline", "make_pipeline"]


def _final_has(method: str) -> Any:
    def check(self: LearnerPipeline) -> bool:
        return hasattr(self._final_estimator, method)

    return check


class LearnerPipeline(Pipeline):  # type: ignore[misc]
    """A :class:`~sklearn.pipeline.Pipeline` whose calls use at most ``n_threads`` threads.

    Args:
        steps: As for :class:`~sklearn.pipeline.Pipeline`.
        n_threads: The thread limit for BLAS and OpenMP during every call.
    """

    def __init__(
        self,
        steps: list[tuple[str, Any]],
        *,
        n_threads: int = 1,
        transform_input: Any = None,
        memory: Any = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.n_threads = n_threads

    def fit(self, X: Any, y: Any = None, **params: Any) -> LearnerPipeline:
        """Fit preprocessing and model under the thread limit."""
        with threadpool_limits(limits=self.n_threads):
            super().fit(X, y, **params)
        return self

    def predict(self, X: Any, **params: Any) -> Any:
        """Predict under the thread limit."""
        with threadpool_limits(limits=self.n_threads):
            return super().predict(X, **params)

    @available_if(_final_has("predict_proba"))  # type: ignore[untyped-decorator]
    def predict_proba(self, X: Any, **params: Any) -> Any:
        """Predict class probabilities (columns in ``classes_`` order) under the thread limit."""
        with threadpool_limits(limits=self.n_threads):
            return super().predict_proba(X, **params)

    @available_if(_final_has("decision_function"))  # type: ignore[untyped-decorator]
    def decision_function(self, X: Any, **params: Any) -> Any:
        """Return the model's decision function under the thread limit."""
        with threadpool_limits(limits=self.n_threads):
            return super().decision_function(X, **params)


def make_pipeline(kind: PreprocessKind, model: Any, n_threads: int) -> LearnerPipeline:
    """Return ``preprocess -> model`` as a :class:`LearnerPipeline`.

    Args:
        kind: The preprocessing the model needs (see ``_preprocess``).
        model: The unfitted model, last step, named ``"model"``.
        n_threads: Thread limit for every call.
    """
    return LearnerPipeline(
        [("preprocess", make_preprocessor(kind)), ("model", model)], n_threads=n_threads
    )
