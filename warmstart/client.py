"""The gRPC client, under a short name: ``from warmstart.client import WarmstartClient``.

Everything public in :mod:`warmstart.service.client`, re-exported; importing
this module loads grpc and the generated protos, nothing of the server.
"""

from __future__ import annotations

from warmstart.service.client import (
    FailedPreconditionRpcError,
    InvalidArgumentRpcError,
    NotFoundRpcError,
    PermissionDeniedRpcError,
    ReportedResult,
    ResourceExhaustedRpcError,
    UnauthenticatedRpcError,
    UnavailableRpcError,
    WarmstartClient,
    WarmstartRpcError,
)

__all__ = [
    "FailedPreconditionRpcError",
    "InvalidArgumentRpcError",
    "NotFoundRpcError",
    "PermissionDeniedRpcError",
    "ReportedResult",
    "ResourceExhaustedRpcError",
    "UnauthenticatedRpcError",
    "UnavailableRpcError",
    "WarmstartClient",
    "WarmstartRpcError",
]
