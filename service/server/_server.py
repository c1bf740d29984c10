"""Wiring: ``make_server(models, store, settings)`` and the serving loop with graceful shutdown.

The server carries the Warmstart and WarmstartAdmin services, standard health
checking (``warmstart.v1.Warmstart`` is SERVING exactly while a model is
loaded; the overall ``""`` service is SERVING while the process runs) and
server reflection. It listens with TLS when the settings name a certificate
and key. SIGTERM or SIGINT stops it accepting calls, lets in-flight calls
finish within the grace period, then closes the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry, start_http_server

from warmstart.metamodel.store import RecordStore
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.service.server._auth import TokenGuard
from warmstart.service.server._models import ModelRegistry, ServedModel
from warmstart.service.server._observe import CallMetrics
from warmstart.service.server._operations import Operations
from warmstart.service.server._servicer import (
    AdminServicer,
    CallRunner,
    WarmstartServicer,
    register_services,
)
from warmstart.service.server._transport import connection_options, server_credentials
from warmstart.service.settings import ServerSettings

__all__ = ["DEFAULT_UPLOAD_RATE_MB", "SERVICE_NAME", "WarmstartServer", "make_server", "serve"]

log = logging.getLogger("warmstart.server")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Warmstart"].full_name
ADMIN_SERVICE_NAME = pb.DESCRIPTOR.services_by_name["WarmstartAdmin"].full_name
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_MIB = 1024 * 1024
DEFAULT_UPLOAD_RATE_MB = ServerSettings.upload_rate_bytes / _MIB
"""MiB a second of DescribeTask data a server reads over all uploads, unless told otherwise."""
SWITCH_INTERVAL_SECONDS = 0.0002
"""The server process's GIL switch interval (:func:`sys.setswitchinterval`)."""


def settle_heap() -> None:
    """Collect garbage once, then keep what survives out of the collector's sight.

    Nearly all of a running server's heap lives as long as the process: the imported
    libraries and the loaded models. CPython's full collections walk all of it again and
    again, which cost about 15% of the server's CPU under SuggestConfigs load (py-spy on
    ``benchmarks/perf/suggest_load.py``). :func:`gc.freeze` moves the survivors to a
    permanent generation that collections skip. After a model swap the heap is unfrozen
    first, so the old model can still be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class WarmstartServer:
    """A built gRPC server: start it, watch its model files, stop it gracefully.

    Made by :func:`make_server` inside a running event loop.
    """

    def __init__(
        self,
        server: aio.Server,
        models: ModelRegistry,
        store: RecordStore,
        settings: ServerSettings,
        health: HealthServicer,
        metrics: CallMetrics,
        servicer: WarmstartServicer | None = None,
    ) -> None:
        self.server = server
        self.models = models
        self.store = store
        self.settings = settings
        self.health = health
        self.metrics = metrics
        self._servicer = servicer
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._metrics_http: Any = None
        self._stopping = False
        self._switch_before: float | None = None

    async def start(self) -> int:
        """Bind, start serving, start the model watcher and metrics; return the gRPC port.

        Raises:
            InvalidRequestError: The TLS certificate or key is unreadable, malformed or
                not a pair (checked before binding).
            OSError: The port cannot be bound.
        """
        self._loop = asyncio.get_running_loop()
        # The event loop gets the GIL back from a thread doing long work (many excluded
        # configs, an upload) within this long. The loop gives the GIL up at every call
        # into gRPC's core and waits up to this long to take it back, so a health Check
        # waits for several such handoffs: at CPython's default of 5 ms, tens of ms behind
        # that work; at 1 ms, Check p99 90 ms and 6,768 Checks in 30 s beside 4 clients of
        # SuggestConfigs excluding 1,000 configs; at 0.2 ms, 58 ms and 9,050 Checks, for
        # 16% fewer of those long calls (edge_load --describe-mb 0, docs/PERFORMANCE.md).
        self._switch_before = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        address = f"{self.settings.host}:{self.settings.port}"
        credentials = None
        if self.settings.tls_cert is not None and self.settings.tls_key is not None:
            credentials = server_credentials(self.settings.tls_cert, self.settings.tls_key)
        try:
            if credentials is not None:
                self.port = self.server.add_secure_port(address, credentials)
            else:
                self.port = self.server.add_insecure_port(address)
        except RuntimeError:  # grpcio raises this when the bind fails
            self.port = 0
        if self.port == 0:
            hint = (
                ""
                if self.settings.reuse_port
                else (", or --reuse-port on every server that shares it")
            )
            raise OSError(
                f"cannot listen on {address}: the port is in use or the address is not "
                f"this machine's; choose another --port (0 picks a free one){hint}"
            )
        self.models.subscribe(self._on_models_changed)
        settle_heap()
        await self._set_health(self.models.models)
        await self.server.start()
        if self.settings.watch_seconds > 0:
            self._watcher = asyncio.create_task(self._watch(), name="warmstart-model-watcher")
        if self.settings.metrics_port:
            self._metrics_http, _ = start_http_server(
                self.settings.metrics_port, self.settings.host, registry=self.metrics.registry
            )
        return self.port

    def _on_models_changed(self, models: Mapping[str, ServedModel]) -> None:
        # Called from the thread that swapped the models: hop onto the event loop.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: loop.create_task(self._set_health(models)))
            loop.call_soon_threadsafe(settle_heap)

    async def _set_health(self, models: Mapping[str, ServedModel]) -> None:
        await self.health.set(SERVICE_NAME, _SERVING if models else _NOT_SERVING)

    async def _watch(self) -> None:
        """Poll the model files; reload when they change (a broken file keeps the old model)."""
        seen = await asyncio.to_thread(self.models.signature)
        while True:
            await asyncio.sleep(self.settings.watch_seconds)
            try:
                now = await asyncio.to_thread(self.models.signature)
                if now == seen:
                    continue
                seen = now
                log.info("model files changed: reloading")
                await asyncio.to_thread(lambda: self.models.reload(only_changed=True, strict=False))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watcher must outlive any bad file or database hiccup
                log.warning("model reload refused, the current model keeps serving: %s", exc)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting calls, let in-flight calls finish within ``grace`` seconds, close.

        Then the thread of long work is shut down (the work it has started finishes, see
        :meth:`WarmstartServicer.close`), and only then the store is closed.
        """
        if self._stopping:
            return
        self._stopping = True
        await self.health.enter_graceful_shutdown()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.server.stop(self.settings.grace_seconds if grace is None else grace)
        if self._servicer is not None:
            await self._servicer.close()
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
        self.store.close()
        if self._switch_before is not None:  # the process is the embedder's again
            sys.setswitchinterval(self._switch_before)

    async def wait(self) -> None:
        """Wait until the server has stopped."""
        await self.server.wait_for_termination()


def make_server(
    models: ModelRegistry,
    store: RecordStore,
    settings: ServerSettings,
    *,
    metrics: CollectorRegistry | None = None,
) -> WarmstartServer:
    """Build the server from loaded models, an open store and settings (call inside an event loop).

    Args:
        models: The registry of served models (may be empty: the server then
            reports NOT_SERVING and SuggestConfigs says how to get a model).
        store: The open records store; :meth:`WarmstartServer.stop` closes it.
        settings: Address, limits (the upload rate included: see
            :class:`~warmstart.service.server._dataset.UploadPace`), tokens, TLS, watcher
            and metrics.
        metrics: Registry for the Prometheus metrics; a new one by default.

    Returns:
        The server, not started yet.
    """
    size = settings.max_message_bytes
    server = aio.server(
        options=[
            ("grpc.max_receive_message_length", size),
            ("grpc.max_send_message_length", size),
            ("grpc.so_reuseport", 1 if settings.reuse_port else 0),
            *connection_options(settings),
        ]
    )
    call_metrics = CallMetrics(metrics or CollectorRegistry())
    runner = CallRunner(
        TokenGuard(settings.write_tokens, settings.admin_tokens, reads_open=settings.reads_open),
        call_metrics,
    )
    operations = Operations(models, store, max_results=settings.max_results)
    servicer = WarmstartServicer(
        operations,
        runner,
        settings.max_describe_bytes,
        batch_wait=settings.batch_wait_ms / 1000,
        describe_budget_bytes=settings.describe_budget_bytes,
        upload_rate=settings.upload_rate_bytes,
    )
    register_services(server, servicer, AdminServicer(operations, runner))
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            ADMIN_SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    return WarmstartServer(server, models, store, settings, health, call_metrics, servicer)


async def serve(
    models: ModelRegistry,
    store: RecordStore,
    settings: ServerSettings,
    *,
    on_started: Callable[[WarmstartServer], None] | None = None,
) -> None:
    """Run a server until SIGTERM or SIGINT, then drain in-flight calls and close the store.

    Args:
        models: The served models.
        store: The open records store (closed on the way out).
        settings: The server settings.
        on_started: Called once the server listens (to print where).
    """
    server = make_server(models, store, settings)
    try:
        await server.start()
    except BaseException:
        store.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if on_started is not None:
        on_started(server)
    try:
        await stop.wait()
        log.info("shutting down: draining calls for up to %.1f s", settings.grace_seconds)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await server.stop()
    log.info("stopped")
