"""Who holds a refresh lock, and whether that holder is a process of this host that is gone."""

from __future__ import annotations

import os
import socket
import uuid

from warmstart.metamodel.store import StoreLock

__all__ = ["holder_id", "holder_is_dead"]


def holder_id() -> str:
    """This process as a lock holder: ``HOST:PID:RANDOM`` (random: two refreshes of one process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(lock: StoreLock) -> bool:
    """Whether the lock's holder is a process of this host that no longer runs.

    A holder on another host, or one whose id is not ``HOST:PID:...``, is never
    judged dead: its lease has to expire.
    """
    try:
        host, pid, _ = lock.holder.rsplit(":", 2)
        if host != socket.gethostname():
            return False
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError, OSError):
        return False
    return False
