"""Installed versions of distributions, read from package metadata (importing none of them)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

__all__ = ["installed_versions"]


def installed_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Each distribution's installed version (``None`` where it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
