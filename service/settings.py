"""Settings from flags and the environment: the only module that reads os.environ.

``WARMSTART_HOME`` is the data directory (default ``$XDG_DATA_HOME/warmstart``,
else ``~/.local/share/warmstart``); the default database is the SQLite file
``warmstart.db`` inside it. ``WARMSTART_DB`` (or ``--db``) overrides it with
any supported URL.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DB_ENV", "HOME_ENV", "data_dir", "default_db_url", "resolve_db_url"]

HOME_ENV = "WARMSTART_HOME"
DB_ENV = "WARMSTART_DB"


def data_dir() -> Path:
    """Return the data directory (not created here)."""
    explicit = os.environ.get(HOME_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "warmstart"


def default_db_url() -> str:
    """Return the URL of the embedded default database in the data directory."""
    return f"sqlite:///{(data_dir() / 'warmstart.db').resolve()}"


def resolve_db_url(flag: str | None) -> str:
    """Choose the database: ``--db`` flag, else ``WARMSTART_DB``, else the default file.

    A bare path (no ``://``) is taken as a SQLite file.
    """
    value = flag or os.environ.get(DB_ENV) or default_db_url()
    if "://" not in value:
        value = f"sqlite:///{Path(value).expanduser().resolve()}"
    return value
