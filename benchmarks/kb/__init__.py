"""The shipped knowledge base: its layout on disk."""

from __future__ import annotations

from warmstart.benchmarks.kb._layout import (
    KB_FEATURES,
    KB_MODELS,
    KB_RECORDS,
    KnowledgeBase,
    default_kb_dir,
    file_sha256,
    source_root,
)

__all__ = [
    "KB_FEATURES",
    "KB_MODELS",
    "KB_RECORDS",
    "KnowledgeBase",
    "default_kb_dir",
    "file_sha256",
    "source_root",
]
