"""What a knowledge base's ``provenance.json`` records, and reading it back.

A build records the command, its times, the libraries and the machine, the
plan, each space's counts and bundle, and every file's SHA-256; ``kb info``
checks the files against it and ``kb compare`` shows the bundles'
training-data hashes from it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.versions import installed_versions

__all__ = [
    "PROVENANCE_FORMAT",
    "bundle_data_hashes",
    "libraries",
    "machine",
    "read_provenance",
    "utc_now",
    "write_json",
]

PROVENANCE_FORMAT = 1
_LIBRARIES = ("lightgbm", "scikit-learn", "numpy", "pandas", "pyarrow", "ConfigSpace", "warmstart")


def utc_now() -> str:
    """The time now, UTC, to the second, as ``2026-12-05T04:38:02Z``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def libraries() -> dict[str, str | None]:
    """Python's version and the installed versions of the libraries a build depends on."""
    return {"python": platform.python_version(), **installed_versions(_LIBRARIES)}


def machine() -> dict[str, Any]:
    """The CPU and the SIMD code paths numpy and torch chose on it.

    Scores of regression tasks are continuous in the predictions, so rounding shows in
    them; the rounding of numpy's and torch's kernels depends on the code path each picks
    for the CPU, and a fit that stops at an iteration cap or trains for many epochs can
    turn it into visible differences. A rebuild on another machine is compared knowing
    this (``warmstart kb compare``).
    """
    cpu = None
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "architecture": platform.machine(),
        "cpu": cpu or platform.processor() or None,
        "cpus": os.cpu_count(),
        "numpy_simd": None,
        "torch_cpu_capability": None,
    }
    with contextlib.suppress(ImportError, AttributeError):  # numpy's own, not public API
        umath = importlib.import_module("numpy._core._multiarray_umath")
        found = umath.__cpu_features__
        info["numpy_simd"] = [name for name in umath.__cpu_dispatch__ if found.get(name)]
    with contextlib.suppress(ImportError, AttributeError, RuntimeError):
        torch = importlib.import_module("torch")
        info["torch_cpu_capability"] = str(torch.backends.cpu.get_cpu_capability())
    return info


def read_provenance(path: Path) -> dict[str, Any]:
    """A ``provenance.json`` written by a build.

    Raises:
        FailedPreconditionError: The file is unreadable, not JSON, or has no ``files`` map.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FailedPreconditionError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise FailedPreconditionError(f"{path} is not a provenance file of `warmstart kb build`")
    return data


def bundle_data_hashes(path: Path) -> dict[str, str]:
    """Each space's bundle training-data hash from a ``provenance.json``.

    Empty when the file is absent or has no usable ``spaces`` map (a folder of
    records alone).

    Raises:
        FailedPreconditionError: The file exists but is not readable JSON.
    """
    if not path.is_file():
        return {}
    try:
        spaces = json.loads(path.read_text(encoding="utf-8")).get("spaces") or {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise FailedPreconditionError(f"{path} is not readable JSON: {exc}") from None
    hashes: dict[str, str] = {}
    if not isinstance(spaces, dict):
        return hashes
    for name, entry in spaces.items():
        bundle = entry.get("bundle") if isinstance(entry, dict) else None
        training = bundle.get("training") if isinstance(bundle, dict) else None
        if isinstance(training, dict) and isinstance(training.get("data_hash"), str):
            hashes[name] = training["data_hash"]
    return hashes


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON with a final newline."""
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
