"""Reading ARFF files (OpenML's dataset format) into a DataFrame.

Nominal attributes become ``category`` columns with the categories in their
declared order (as openml-python returns them); numeric ones ``float64``;
``?`` is missing. Parsing is scipy's, which reads numeric, nominal and date
attributes (not string or relational ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.io import arff

from warmstart.metamodel.errors import InvalidRequestError

__all__ = ["ArffTable", "read_arff"]


@dataclass(frozen=True)
class ArffTable:
    """An ARFF file's data with each attribute's declared kind.

    Attributes:
        relation: The ``@relation`` name.
        frame: The data (``pandas.DataFrame``), one column per attribute.
        kinds: ``{attribute: "nominal" | "numeric" | "date"}``.
    """

    relation: str
    frame: Any
    kinds: dict[str, str]


def read_arff(path: str | Path) -> ArffTable:
    """Read an ARFF file.

    Args:
        path: The ``.arff`` file.

    Returns:
        The table and each attribute's kind.

    Raises:
        InvalidRequestError: Missing, unreadable or malformed file, or one with
            attribute types scipy cannot read (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such ARFF file")
    try:
        with path.open(encoding="utf-8") as handle:
            data, meta = arff.loadarff(handle)
    except NotImplementedError as exc:
        raise InvalidRequestError(
            f"{path}: cannot read this ARFF file ({exc}); load the dataset through "
            "openml-python instead"
        ) from exc
    except (OSError, ValueError, arff.ArffError) as exc:
        raise InvalidRequestError(f"{path}: malformed ARFF file ({exc})") from exc
    columns: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for name in meta.names():
        kind, declared = meta[name]
        values = data[name]
        if kind == "nominal":
            labels = [value.decode("utf-8") for value in values]
            columns[name] = pd.Categorical(
                [None if label == "?" else label for label in labels],
                categories=list(declared),
            )
        else:
            columns[name] = values
        kinds[name] = str(kind)
    return ArffTable(str(meta.name), pd.DataFrame(columns), kinds)
