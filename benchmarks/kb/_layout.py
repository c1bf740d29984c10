"""The shipped knowledge base's layout: where it is and which files it holds.

``kb/`` of the repository (linked as ``warmstart/kb``) or the same files a wheel
installs as package data: the records, the meta-features and the model bundles
(kb/README.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from warmstart.metamodel.errors import FailedPreconditionError

__all__ = [
    "KB_FEATURES",
    "KB_MODELS",
    "KB_PLAN",
    "KB_PROVENANCE",
    "KB_RECORDS",
    "KnowledgeBase",
    "default_kb_dir",
    "file_sha256",
    "kb_files",
    "source_root",
]

KB_RECORDS = "pmlb_records.parquet"
KB_FEATURES = "pmlb_features.parquet"
KB_MODELS = "models"
KB_PLAN = "plan.toml"
KB_PROVENANCE = "provenance.json"
# The folder holding kb/: a source tree's root, or warmstart/ of site-packages in a wheel.
_ROOT = Path(__file__).resolve().parents[2]


def default_kb_dir() -> Path:
    """The knowledge base ``quickstart`` loads by default: the package's ``kb`` folder.

    In a source tree that is the repository's ``kb/``; a wheel carries the same
    files as package data of ``warmstart``.
    """
    return _ROOT / "kb"


@dataclass(frozen=True)
class KnowledgeBase:
    """The shipped knowledge base's files."""

    root: Path

    @property
    def records(self) -> Path:
        """The records file (docs/RECORDS_FORMAT.md)."""
        return self.root / KB_RECORDS

    @property
    def features(self) -> Path:
        """The meta-features file (kb/README.md)."""
        return self.root / KB_FEATURES

    @property
    def bundles(self) -> list[Path]:
        """The shipped model bundles, by file name."""
        return sorted(p for p in (self.root / KB_MODELS).glob("*.wsb") if p.is_file())

    @classmethod
    def locate(cls, root: Path | None = None) -> KnowledgeBase:
        """Find the knowledge base and check it is complete.

        Raises:
            FailedPreconditionError: The folder or one of its files is missing.
        """
        kb = cls((root or default_kb_dir()).resolve())
        how = (
            "`warmstart quickstart` finds kb/ of a source checkout installed with "
            "`pip install -e .` (as `make run` does), or the copy a wheel installs; "
            "give --kb PATH to use a copy of kb/"
        )
        if not kb.root.is_dir():
            raise FailedPreconditionError(f"no knowledge base folder at {kb.root}: {how}")
        missing = [p.name for p in (kb.records, kb.features) if not p.is_file()]
        if not kb.bundles:
            missing.append(f"{KB_MODELS}/*.wsb")
        if missing:
            raise FailedPreconditionError(
                f"the knowledge base at {kb.root} lacks {', '.join(missing)}: {how}"
            )
        return kb


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_root() -> Path:
    """A source tree's root (the shared datasets lie beside it); in a wheel, the package."""
    return _ROOT


def kb_files(root: Path) -> list[str]:
    """The data files a knowledge-base folder holds, relative: records, features, bundles."""
    names = [KB_RECORDS, KB_FEATURES]
    names += sorted(f"{KB_MODELS}/{p.name}" for p in (root / KB_MODELS).glob("*.wsb"))
    return [name for name in names if (root / name).is_file()]
