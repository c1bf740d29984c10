"""The gRPC client, under a short name: ``from warmstart.client import WarmstartClient``.

Everything public in :mod:`warmstart.service.client` (its ``__all__``),
re-exported; importing this module loads grpc and the generated protos,
nothing of the server.
"""

from __future__ import annotations

from warmstart.service.client import *  # noqa: F403
from warmstart.service.client import __all__ as __all__
