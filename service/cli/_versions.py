"""``warmstart --version``: warmstart's and its runtime libraries' installed versions."""

from __future__ import annotations

import platform

from warmstart.metamodel.versions import installed_versions

__all__ = ["RUNTIME_LIBRARIES", "version_line"]

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


def version_line() -> str:
    """``warmstart X (python Y; lightgbm Z; ...)``: what a bug report needs to say."""
    own = installed_versions(["warmstart"])["warmstart"] or "(not installed)"
    found = {"python": platform.python_version(), **installed_versions(RUNTIME_LIBRARIES)}
    parts = [f"{name} {version or 'not installed'}" for name, version in found.items()]
    return f"warmstart {own} ({'; '.join(parts)})"
