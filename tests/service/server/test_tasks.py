"""Tasks the service knows, their results, and suggestions that use what was observed.

The new-task round trip runs over gRPC from the Python client on SQLite and PostgreSQL:
register a task, get the zero-shot answer, report three of its configs, and the next
answer used those three observations and suggests none of them again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import grpc
import numpy as np
import pandas as pd
import pytest

from tests.service.server.conftest import (
    TASK_IDS,
    WRITE_TOKEN,
    ServerThread,
    registry_with,
    seed_store,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.store import RecordFilter
from warmstart.metamodel.types import ConfigValue, Observation, RecordSource, TaskType
from warmstart.service.client import (
    AlreadyExistsRpcError,
    InvalidArgumentRpcError,
    NotFoundRpcError,
    UnauthenticatedRpcError,
    WarmstartClient,
)
from warmstart.service.wire.api import ReportedResult

FEATURES = {"f0": 0.3, "f1": 0.8, "f2": 0.5, "f3": 0.5}


@pytest.fixture
def any_store(bundle: ModelBundle, store_url: str) -> Iterator[ServerThread]:
    """A server with the synthetic model over a fresh store on each backend."""
    with ServerThread(registry_with(bundle), seed_store(store_url), settings()) as server:
        yield server


@pytest.fixture(scope="module")
def shared(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """One server over SQLite for the tests below that keep to tasks of their own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tasks') / 'warmstart.db'}"
    with ServerThread(registry_with(bundle), seed_store(url), settings()) as server:
        yield server


def register(client: WarmstartClient, name: str = "mine/credit", f0: float = 0.3) -> str:
    registered = client.register_task(
        {**FEATURES, "f0": f0},
        feature_version="test-1",
        task_type="binary",
        n_rows=500,
        n_features=4,
        name=name,
    )
    return registered.task.task_id


def result(
    result_id: str, task_id: str, config: Mapping[str, ConfigValue], score: float
) -> ReportedResult:
    return ReportedResult(result_id, task_id, "svm_like", config, score=score)


def test_a_new_task_is_registered_reported_on_and_its_results_steer_suggestions(
    any_store: ServerThread,
) -> None:
    with WarmstartClient(any_store.target, token=WRITE_TOKEN) as client:
        task_id = register(client)
        zero_shot = client.suggest(FEATURES, "svm_like", k=5, feature_version="test-1")
        first = client.suggest(task_id, "svm_like", k=5)
        tried = [s.config for s in first.suggestions[:3]]
        summary = client.report(
            [result(f"run-{i}", task_id, c, 0.6 + i / 10) for i, c in enumerate(tried)]
        )
        after = client.suggest(task_id, "svm_like", k=5)
        detail = client.get_task(task_id)
    assert first.observations == 0
    assert [s.config for s in first.suggestions] == [s.config for s in zero_shot.suggestions]
    assert (summary.stored, summary.already, summary.duplicates) == (3, 0, 0)
    assert after.observations == 3
    assert len(after.suggestions) == 5
    assert not {config_hash(c) for c in tried} & {config_hash(s.config) for s in after.suggestions}
    assert [(r.space_name, r.results) for r in detail.results] == [("svm_like", 3)]


def test_registering_the_same_content_again_is_a_no_op(shared: ServerThread) -> None:
    with WarmstartClient(shared.target, token=WRITE_TOKEN) as client:
        first = client.register_task(
            FEATURES, feature_version="test-1", task_type="binary", n_rows=700, n_features=4
        )
        again = client.register_task(
            FEATURES,
            feature_version="test-1",
            task_type=TaskType.BINARY,
            n_rows=700,
            n_features=4,
            name="renamed",
        )
        other = client.register_task(
            FEATURES, feature_version="test-1", task_type="binary", n_rows=701, n_features=4
        )
        detail = client.get_task(first.task.task_id)
    assert first.created
    assert not again.created
    assert again.task == first.task  # the first name stays
    assert first.task.name == f"client/{first.task.task_id}"
    assert other.task.task_id != first.task.task_id
    assert first.task.source == "client"
    (stored,) = detail.features
    assert stored.version == "test-1"
    assert stored.as_dict() == FEATURES
    assert detail.results == ()


def test_registration_needs_a_write_token_and_known_meta_features(shared: ServerThread) -> None:
    with WarmstartClient(shared.target) as client, pytest.raises(UnauthenticatedRpcError):
        register(client)
    with WarmstartClient(shared.target, token=WRITE_TOKEN) as client:
        with pytest.raises(InvalidArgumentRpcError, match="feature_version 'v9' is not one"):
            client.register_task(
                FEATURES, feature_version="v9", task_type="binary", n_rows=5, n_features=4
            )
        with pytest.raises(InvalidArgumentRpcError, match="'f9' are not of version 'test-1'"):
            client.register_task(
                {"f9": 1.0}, feature_version="test-1", task_type="binary", n_rows=5, n_features=4
            )
        with pytest.raises(
            InvalidArgumentRpcError, match=r"n_rows must be in \[1, 2147483647\], got 0"
        ):
            client.register_task(
                FEATURES, feature_version="test-1", task_type="binary", n_rows=0, n_features=4
            )
        with pytest.raises(InvalidArgumentRpcError, match="'f1' are infinite"):
            client.register_task(
                {"f1": math.inf},
                feature_version="test-1",
                task_type="binary",
                n_rows=5,
                n_features=4,
            )


def test_tasks_are_listed_a_page_at_a_time(shared: ServerThread) -> None:
    with WarmstartClient(shared.target, token=WRITE_TOKEN) as client:
        mine = sorted(register(client, f"page/{i}", f0=i / 100) for i in range(5))
        pages = []
        token = ""
        while True:
            page = client.list_tasks(name_prefix="page/", page_size=2, page_token=token)
            pages.append([t.name for t in page.tasks])
            token = page.next_page_token
            if not token:
                break
        everything = client.list_tasks(page_size=1000)
        with pytest.raises(InvalidArgumentRpcError, match="page_token 'nonsense' is not one"):
            client.list_tasks(page_token="nonsense")
        with pytest.raises(InvalidArgumentRpcError, match=r"page_size must be in \[1, 1000\]"):
            client.list_tasks(page_size=1001)
    assert pages == [["page/0", "page/1"], ["page/2", "page/3"], ["page/4"]]
    assert not everything.next_page_token
    listed = {t.task_id for t in everything.tasks}
    assert set(TASK_IDS) <= listed
    assert sorted(t.task_id for t in everything.tasks if t.name.startswith("page/")) == mine


def test_an_unknown_task_is_not_found(shared: ServerThread) -> None:
    with WarmstartClient(shared.target, token=WRITE_TOKEN) as client:
        with pytest.raises(NotFoundRpcError, match=r"unknown task_id 'nope'.*ListTasks"):
            client.get_task("nope")
        with pytest.raises(NotFoundRpcError, match="unknown task_id 'nope'"):
            client.suggest("nope", "svm_like", k=2)


def test_a_changed_payload_is_refused_and_a_repeated_evaluation_is_counted(
    any_store: ServerThread,
) -> None:
    config: dict[str, ConfigValue] = {"C": 1.0, "kernel": "linear", "shrinking": True}
    with WarmstartClient(any_store.target, token=WRITE_TOKEN) as client:
        task_id = register(client)
        first = client.report([result("a", task_id, config, 0.7)])
        same = client.report([result("a", task_id, config, 0.7)])
        with pytest.raises(AlreadyExistsRpcError, match=r"'a'.*different payload") as refused:
            client.report(
                [
                    result("b", task_id, {**config, "C": 2.0}, 0.5),
                    result("a", task_id, config, 0.9),
                ]
            )
        twice = client.report([result("c", task_id, config, 0.9)])
    assert refused.value.code is grpc.StatusCode.ALREADY_EXISTS
    assert (first.stored, first.already, first.duplicates) == (1, 0, 0)
    assert (same.stored, same.already, same.duplicates) == (0, 1, 0)
    assert (twice.stored, twice.already, twice.duplicate_ids) == (0, 0, ("c",))
    stored = any_store.store.get_records(RecordFilter(source=RecordSource.CLIENT))
    assert [(r.external_id, r.score) for r in stored] == [("a", 0.7)]  # "b" went with the batch


def test_inline_observations_count_and_are_checked(shared: ServerThread) -> None:
    with WarmstartClient(shared.target, token=WRITE_TOKEN) as client:
        zero = client.suggest(FEATURES, "svm_like", k=4, feature_version="test-1")
        tried = [s.config for s in zero.suggestions[:2]]
        seen = [Observation(c, 0.5 + i / 10) for i, c in enumerate(tried)]
        inline = client.suggest(
            FEATURES, "svm_like", k=4, feature_version="test-1", observations=seen
        )
        task_id = register(client, "inline/task", f0=0.9)
        client.report([result("inline-r0", task_id, tried[0], 0.5)])
        both = client.suggest(
            task_id,
            "svm_like",
            k=4,
            observations=[(tried[1], 0.6), (zero.suggestions[2].config, 0.4)],
        )
        with pytest.raises(
            InvalidArgumentRpcError,
            match=r"observations\[1\]: score must be a finite number, got nan",
        ):
            client.suggest(
                task_id, "svm_like", k=2, observations=[(tried[0], 0.5), (tried[1], math.nan)]
            )
        with pytest.raises(InvalidArgumentRpcError, match=r"observations\[0\]: .*kernel"):
            client.suggest(
                task_id, "svm_like", k=2, observations=[({"C": 1.0, "kernel": "cubic"}, 0.5)]
            )
    assert inline.observations == 2
    assert not {config_hash(c) for c in tried} & {config_hash(s.config) for s in inline.suggestions}
    assert both.observations == 3


def test_describe_with_a_write_token_stores_the_task(shared: ServerThread) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.random(200), "b": rng.integers(0, 5, 200)})
    y = rng.integers(0, 2, 200)
    with WarmstartClient(shared.target) as reader:
        plain = reader.describe(X, y, "binary")
    with WarmstartClient(shared.target, token=WRITE_TOKEN) as writer:
        stored = writer.describe(X, y, "binary", name="tables/mine")
        again = writer.describe(X, y, "binary", name="tables/other")
        detail = writer.get_task(stored.task_id)
    assert plain.task_id == ""
    assert len(stored.task_id) == 16
    assert (stored.created, again.created, again.task_id) == (True, False, stored.task_id)
    assert detail.task.name == "tables/mine"
    assert (detail.task.n_rows, detail.task.n_features) == (200, 2)
    assert detail.features[0].as_dict().keys() == plain.as_dict().keys()
