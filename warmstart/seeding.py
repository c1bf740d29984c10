"""Seed and drive optimizers with warmstart's suggestions: ``from warmstart.seeding import ...``.

Everything public in :mod:`warmstart.service.seeding`, re-exported (Optuna,
hyperopt, SMAC / ConfigSpace, Ray Tune). The optimizers themselves are
imported only when a helper needs them; ``WarmstartSampler`` imports Optuna
when the name is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import warmstart.service.seeding as _seeding

if TYPE_CHECKING:
    from warmstart.service.seeding import *  # noqa: F403
    from warmstart.service.seeding import WarmstartSampler as WarmstartSampler

__all__ = list(_seeding.__all__)


def __getattr__(name: str) -> Any:
    if name in _seeding.__all__:
        return getattr(_seeding, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
