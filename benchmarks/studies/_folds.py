"""What the leave-family-out studies share: their command line and their folds."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from warmstart.metamodel.evaluation import EvaluationData, load_evaluation_data
from warmstart.metamodel.store import RecordStore

__all__ = ["at_least", "fold_parser", "load_folds"]


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``low``, else an error that says so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def fold_parser(description: str, *, trains: bool = False) -> argparse.ArgumentParser:
    """A parser with the options every fold study takes: ``--db``, ``--space``,
    ``--feature-version``, ``--folds`` and ``--seed``; with ``trains`` (a study that trains
    configs on the suite's tasks) also ``--suite`` and ``--workers``."""
    parser = argparse.ArgumentParser(description=description)
    if trains:
        parser.add_argument("--suite", required=True, help="The suite the records came from.")
        parser.add_argument("--workers", type=at_least(1), default=1)
    parser.add_argument("--db", required=True, help="Records database URL.")
    parser.add_argument("--space", default="lightgbm")
    parser.add_argument("--feature-version", default="mf-1")
    parser.add_argument("--folds", type=at_least(2), default=5)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def load_folds(args: argparse.Namespace) -> EvaluationData:
    """The space's records and meta-features from ``args.db``, split into family folds."""
    store = RecordStore.open(args.db, create=False)
    return load_evaluation_data(store, args.space, args.feature_version, args.folds, args.seed)
