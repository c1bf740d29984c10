"""Fixtures shared by the live-mode tests: the shipped PMLB suite and a small store of
LightGBM evaluations on it.

The store is built once a session: the modules that read it (test_live, test_live_checkpoint,
test_learner_probes_study, test_noise_ceiling_study) are in the ``live_store`` xdist group,
so under ``-n`` they run on one worker and share it. None of them writes to it (a test that
adds to it works on a copy).
"""

from __future__ import annotations

import pytest

from tests.benchmarks.live_store import build_live_store
from tests.factories import require_pmlb
from warmstart.benchmarks.tasks import Suite, load_suite


@pytest.fixture(scope="session")
def suite() -> Suite:
    """The PMLB suite the live tests hold tasks out of."""
    return load_suite(f"pmlb:{require_pmlb()}")


@pytest.fixture(scope="session")
def db(suite: Suite, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store of LightGBM evaluations (default + 5 cheap Sobol configs) with meta-features."""
    return build_live_store(suite, tmp_path_factory.mktemp("live"))
