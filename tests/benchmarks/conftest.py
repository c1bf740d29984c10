"""Fixtures shared by the live-mode tests: the shipped PMLB suite and a small store of
LightGBM evaluations on it (one per test module, as module-scoped fixtures are)."""

from __future__ import annotations

import pytest

from tests.benchmarks.live_store import build_live_store
from tests.factories import require_pmlb
from warmstart.benchmarks.tasks import Suite, load_suite


@pytest.fixture(scope="module")
def suite() -> Suite:
    """The PMLB suite the live tests hold tasks out of."""
    return load_suite(f"pmlb:{require_pmlb()}")


@pytest.fixture(scope="module")
def db(suite: Suite, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store of LightGBM evaluations (default + 5 cheap Sobol configs) with meta-features."""
    return build_live_store(suite, tmp_path_factory.mktemp("live"))
