"""Shared fixtures: a records store over every backend, real PMLB tasks.

PostgreSQL tests run against ``WARMSTART_TEST_POSTGRES_URL`` (an admin URL;
each test session creates its own database and each test its own schema).
Under CI (``CI=true``) or with that variable set, an unreachable server fails
the tests; elsewhere they are skipped with the reason.

Under pytest-xdist (``-n``), the tests of the modules in :data:`SHARED_SETUP` go to one
worker together (see :func:`pytest_xdist_make_scheduler`); every other test is sent on its
own, as ``--dist load`` sends them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from warmstart.metamodel.store import RecordStore

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _pg_admin_url() -> tuple[str, bool]:
    explicit = os.environ.get("WARMSTART_TEST_POSTGRES_URL")
    required = bool(explicit) or os.environ.get("CI", "").lower() == "true"
    return explicit or DEFAULT_PG_URL, required


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its URL."""
    admin_url, required = _pg_admin_url()
    name = f"warmstart_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {admin_url} is unreachable: {str(exc.orig).strip()[:200]}"
        if required:
            pytest.fail(message + " (required: CI=true or WARMSTART_TEST_POSTGRES_URL is set)")
        pytest.skip(message + "; set WARMSTART_TEST_POSTGRES_URL to run these tests")
    url = sa.engine.make_url(admin_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def pg_schema_url(database_url: str) -> str:
    """Create a new schema in the test database; return a URL that uses it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = sa.engine.make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warmstart.db'}"
    return pg_schema_url(request.getfixturevalue("pg_database"))


@pytest.fixture
def store(store_url: str) -> Iterator[RecordStore]:
    """An open, empty store on each backend."""
    with RecordStore.open(store_url) as opened:
        yield opened


SHARED_SETUP = {
    # The live store (tests/benchmarks/conftest.py, session-scoped) and what is run on it.
    "tests/benchmarks/test_live.py": "live_store",
    "tests/benchmarks/test_live_checkpoint.py": "live_store",
    "tests/benchmarks/test_learner_probes_study.py": "live_store",
    "tests/benchmarks/test_noise_ceiling_study.py": "live_store",
    # Modules whose module-scoped fixtures take seconds to build.
    "tests/benchmarks/test_kb_build.py": "kb_build",
    "tests/metamodel/test_probe_bundles.py": "probe_bundles",
    "tests/metamodel/test_recommend.py": "recommend",
    "tests/service/test_byo_metadata.py": "byo_metadata",
    "tests/service/test_cli_kb.py": "cli_kb",
    "tests/service/test_quickstart.py": "quickstart",
    "tests/service/test_refresh.py": "refresh",
}
"""Test modules whose tests run on one worker, by group: the module- and session-scoped
fixtures they share (a store of real evaluations, a trained bundle, a first start, a built
knowledge base) are then built once, not once on each worker that gets one of the tests.
(pytest-xdist's own ``--dist loadgroup`` would do this from ``xdist_group`` marks, but its
3.8 release renames items through an attribute pytest 9 no longer reads, so the marks
group nothing.)"""


@pytest.hookimpl(optionalhook=True)  # an xdist hook: pytest without xdist skips it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n`` (``--dist load``): each test a unit of work, as ``load`` makes them,
    but the tests of each group of :data:`SHARED_SETUP` one unit, sent to one worker.
    The groups are sent first (the largest first), the single tests after them, in
    collection order, to whichever worker has fewer than three left: the run ends on short
    tests, not on a group. Another ``--dist`` given on the command line is left to xdist."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class SharedSetupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return SHARED_SETUP.get(nodeid.split("::", 1)[0], nodeid)

    return SharedSetupScheduling(config, log)
