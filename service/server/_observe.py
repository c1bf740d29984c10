"""What the server tells operators: Prometheus metrics per call, and one JSON log line per call."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = [
    "ACCESS_LOGGER",
    "CallMetrics",
    "JsonLogFormatter",
    "configure_json_logging",
    "log_call",
]

ACCESS_LOGGER = "warmstart.server.access"
_access = logging.getLogger(ACCESS_LOGGER)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class CallMetrics:
    """Calls counter and latency histogram, labelled by RPC and status code; batch sizes.

    Args:
        registry: Where the metrics are registered (one per server, so that
            several servers in one process, as in tests, do not collide).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.calls = Counter(
            "warmstart_rpc_calls",
            "gRPC calls handled, by method and status code.",
            ["rpc", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "warmstart_rpc_latency_seconds",
            "Time to handle a gRPC call, by method and status code.",
            ["rpc", "code"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "warmstart_suggest_batch_size",
            "SuggestConfigs calls (from meta-features) answered together in one pass.",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )

    def observe_batch(self, size: int) -> None:
        """Count one batch of SuggestConfigs calls answered together, and its size."""
        self.batch_size.observe(size)

    def observe(self, rpc: str, code: str, seconds: float) -> None:
        """Count one call and its latency."""
        children = self._children.get((rpc, code))
        if children is None:  # looking the labelled series up costs more than the update
            children = self.calls.labels(rpc=rpc, code=code), self.latency.labels(rpc, code)
            self._children[(rpc, code)] = children
        children[0].inc()
        children[1].observe(seconds)


def log_call(rpc: str, code: str, ms: float, peer: str) -> None:
    """Write the access log line of one call (fields: rpc, code, ms, peer).

    The record is made directly rather than through ``Logger.info``, which would also
    look up the caller's source line on every call: an access line has no use for it.
    """
    if not _access.isEnabledFor(logging.INFO):
        return
    record = _access.makeRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        0,
        "%s %s",
        (rpc, code),
        None,
        extra={"rpc": rpc, "code": code, "ms": round(ms, 3), "peer": peer},
    )
    _access.handle(record)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, any ``extra`` fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """Format a record as a JSON line."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_json_logging(level: str, stream: TextIO | None = None) -> None:
    """Send the server's logs, and Python's warnings, to ``stream`` as JSON lines.

    Warnings (a library's ``RuntimeWarning``, a deprecation) go through the
    ``py.warnings`` logger (:func:`logging.captureWarnings`), so that nothing the
    server writes to stderr is outside the JSON log.

    Args:
        level: The log level, by name (``"info"``).
        stream: Where the lines go; stderr by default.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    for name in ("warmstart", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    logging.captureWarnings(True)
