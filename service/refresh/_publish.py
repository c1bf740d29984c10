"""The last step of a refresh: write the new bundle and register it as the serving version."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.refresh import GateResult, TrainingSnapshot
from warmstart.metamodel.store import ModelLedger
from warmstart.metamodel.types import ModelVersion
from warmstart.service.refresh._options import RefreshOptions

__all__ = ["publish"]


@contextlib.contextmanager
def _stop_signals_ignored() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while the new version is written and registered.

    Stopped there, a refresh could have committed the publish and still report
    "interrupted", or unlink a bundle it has just registered; so it completes.
    Signal handlers can only be set in the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def publish(
    ledger: ModelLedger,
    snapshot: TrainingSnapshot,
    bundle: ModelBundle,
    serving: ModelVersion | None,
    gate: GateResult | None,
    options: RefreshOptions,
    detail: dict[str, Any],
    on_published: Callable[[], None],
) -> ModelVersion:
    """Save ``bundle`` under ``options.models_dir`` and make it serve, if ``serving`` still does.

    The publish event stores the training data's record-id cut-off, so a later
    gate can rebuild exactly what this version was trained on. ``on_published``
    runs (to record the refresh's outcome) before stop signals are heeded again.

    Raises:
        ServingChangedError: Another version was made to serve meanwhile (the file
            written is removed again).
    """
    metrics = {"records": float(len(snapshot.records)), "tasks": float(bundle.training["tasks"])}
    if gate is not None:
        metrics[f"regret@{gate.k}"] = gate.mean_candidate
        metrics[f"serving_regret@{gate.k}"] = gate.mean_serving
    bundle = dataclasses.replace(bundle, metrics=metrics)
    with _stop_signals_ignored():
        path = options.models_dir / f"{bundle.version}.wsb"
        digest = bundle.save(path)
        version = ModelVersion(
            bundle.version, options.space, str(path), digest, bundle.created_at, metrics
        )
        try:
            ledger.publish(
                version,
                expected_serving=serving.version if serving else None,
                detail={
                    **detail,
                    "max_record_id": snapshot.max_record_id,
                    "by_source": snapshot.by_source(),
                },
            )
        except BaseException:
            path.unlink(missing_ok=True)  # never leave an unregistered bundle beside the real ones
            raise
        on_published()
    return version
