"""The gRPC server: ``make_server(models, store, settings)``, the model registry, ``serve``.

Modules: ``_operations`` (the core call behind each RPC), ``_servicer`` (thin gRPC
servicers), ``_errors`` (the one error → status table), ``_auth`` (bearer tokens),
``_models`` (hot-swapped bundles), ``_dataset`` (DescribeTask uploads), ``_observe``
(metrics, logs), ``_transport`` (TLS credentials, connection limits), ``_server`` (wiring
and graceful shutdown). Requests and answers, their protobuf form and the API's limits
are :mod:`warmstart.service.wire`'s, shared with the client.
"""

from __future__ import annotations

from warmstart.service.server._models import (
    BundleLocator,
    ModelRegistry,
    ServedModel,
    bundle_files,
    store_locator,
)
from warmstart.service.server._observe import (
    ACCESS_LOGGER,
    JsonLogFormatter,
    configure_json_logging,
)
from warmstart.service.server._server import (
    DEFAULT_UPLOAD_RATE_MB,
    SERVICE_NAME,
    WarmstartServer,
    make_server,
    serve,
)
from warmstart.service.server._transport import server_credentials

__all__ = [
    "ACCESS_LOGGER",
    "DEFAULT_UPLOAD_RATE_MB",
    "SERVICE_NAME",
    "BundleLocator",
    "JsonLogFormatter",
    "ModelRegistry",
    "ServedModel",
    "WarmstartServer",
    "bundle_files",
    "configure_json_logging",
    "make_server",
    "serve",
    "server_credentials",
    "store_locator",
]
