"""The new-task round trip from a Node client built from the .proto alone (examples/node).

The client loads protos/warmstart/v1/warmstart.proto at run time with
@grpc/proto-loader: nothing generated, nothing from Python. Against a real server with
the shipped LightGBM bundle it uploads a CSV with a write token, asks for three configs,
reports three results and asks again. Skipped where Node.js or npm is missing; the
packages are installed from the npm registry into a temporary folder.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.factories import require_pmlb
from tests.service.server.conftest import WRITE_TOKEN, ServerThread, registry_with, settings
from warmstart.benchmarks.kb import default_kb_dir
from warmstart.metamodel.bundle import load_bundle
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.store import RecordFilter, RecordStore

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "node"
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="Node.js and npm are not installed"
)


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example client with its two pinned packages installed beside it."""
    folder = tmp_path_factory.mktemp("node-client")
    for name in ("package.json", "roundtrip.mjs"):
        shutil.copy(EXAMPLE / name, folder / name)
    assert NPM is not None
    done = subprocess.run(
        [NPM, "install", "--no-package-lock", "--no-audit", "--no-fund"],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"npm install failed:\n{done.stdout}\n{done.stderr}"
    return folder


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    """A server with the shipped LightGBM bundle over an empty SQLite store."""
    bundle = load_bundle(default_kb_dir() / "models" / "lightgbm.wsb")
    store = RecordStore.open(f"sqlite:///{tmp_path / 'warmstart.db'}")
    store.put_space(bundle.space)
    with ServerThread(registry_with(bundle), store, settings()) as running:
        yield running


def test_a_node_client_registers_reports_and_gets_informed_suggestions(
    client_dir: Path, server: ServerThread, tmp_path: Path
) -> None:
    table = tmp_path / "breast_cancer.csv"
    pd.read_csv(require_pmlb() / "breast_cancer.tsv.gz", sep="\t").to_csv(table, index=False)
    assert NODE is not None
    done = subprocess.run(
        [NODE, "roundtrip.mjs", "--server", server.target, "--token", WRITE_TOKEN,
         "--data", str(table), "--target", "target", "--k", "3", "--name", "node/breast_cancer",
         "--proto", str(REPO / "protos" / "warmstart" / "v1" / "warmstart.proto")],
        cwd=client_dir, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["created"] is True
    assert answer["first"]["observations"] == 0
    assert len(answer["first"]["configs"]) == 3
    assert answer["reported"] == {"stored": 3, "already": 0, "duplicates": 0}
    assert answer["second"]["observations"] == 3
    tried = {config_hash(c) for c in answer["tried"]}
    assert len(tried) == 3
    assert not tried & {config_hash(c) for c in answer["second"]["configs"]}
    stored = server.store.get_records(RecordFilter(task_id=answer["task_id"]))
    assert len(stored) == 3
    assert server.store.get_task(answer["task_id"]).name == "node/breast_cancer"
