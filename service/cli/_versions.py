"""Installed versions of warmstart and the libraries its results depend on.

Read from the installed packages' metadata, so asking imports none of them.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata

__all__ = ["RUNTIME_LIBRARIES", "installed_versions", "version_line"]

#: What ``warmstart --version`` names after warmstart itself.
RUNTIME_LIBRARIES = (
    "lightgbm",
    "scikit-learn",
    "numpy",
    "pandas",
    "pyarrow",
    "ConfigSpace",
    "torch",
    "grpcio",
)


def installed_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Each distribution's installed version (``None`` where it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def version_line() -> str:
    """``warmstart X (python Y; lightgbm Z; ...)``: what a bug report needs to say."""
    own = installed_versions(["warmstart"])["warmstart"] or "(not installed)"
    found = {"python": platform.python_version(), **installed_versions(RUNTIME_LIBRARIES)}
    parts = [f"{name} {version or 'not installed'}" for name, version in found.items()]
    return f"warmstart {own} ({'; '.join(parts)})"
