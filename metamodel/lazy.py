"""Names a package offers but imports only when first used (PEP 562).

A package's ``__init__`` maps each public name to the module that defines it and
gets back its ``__getattr__`` and ``__dir__``, so ``import package`` stays cheap
and ``package.Name`` imports the defining module once, then caches the value.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for names defined in other modules.

    Args:
        package: The package's name, for the error an unknown name raises.
        names: Each public name and the module that defines it.
        namespace: The package's ``globals()``; a name is cached there once imported.
    """

    def get_attribute(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def listed() -> list[str]:
        return sorted({*namespace, *names})

    return get_attribute, listed
