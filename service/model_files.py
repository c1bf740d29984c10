"""Registered model versions and their bundle files: is the file what the store says it is?

A version is checked before it serves (``warmstart model promote``, ``rollback``)
and before a refresh relies on the serving model: its bundle file must exist,
match the registered hash, load (of whatever meta-feature version it was
trained on), and be the version and space it is registered as.
"""

from __future__ import annotations

from pathlib import Path

from warmstart.benchmarks.kb import file_sha256
from warmstart.metamodel.bundle import ModelBundle, load_bundle
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.types import ModelVersion

__all__ = ["check_version_file"]


def check_version_file(version: ModelVersion) -> ModelBundle:
    """Load a registered version's bundle and check it is what the store says it is.

    Raises:
        FailedPreconditionError: The file is missing, altered, does not load, or is
            another version or space.
    """
    path = Path(version.path)
    if not path.is_file():
        raise FailedPreconditionError(f"the bundle of {version.version} is gone: no file {path}")
    if file_sha256(path) != version.bundle_hash:
        raise FailedPreconditionError(
            f"{path} does not match the hash registered for {version.version}; it was "
            "replaced or altered"
        )
    try:
        bundle = load_bundle(path)
    except InvalidRequestError as exc:
        raise FailedPreconditionError(str(exc)) from None
    if (bundle.version, bundle.space.name) != (version.version, version.space_name):
        raise FailedPreconditionError(
            f"{path} holds {bundle.version} of space {bundle.space.name!r}, but is registered "
            f"as {version.version} of space {version.space_name!r}"
        )
    return bundle
