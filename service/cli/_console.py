"""The CLI's consoles and its one way of printing a domain error: light, so that every
command, the client commands included, can use them without loading more."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from warmstart.metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    NotFoundError,
    WarmstartError,
)

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "console", "err_console", "handle_errors"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
for _console in (console, err_console):
    if not _console.is_terminal:  # logs and pipes: do not squeeze tables into 80 columns
        _console.width = max(_console.width, 160)

_P = ParamSpec("_P")
_R = TypeVar("_R")

EXIT_INVALID = 2
EXIT_FAILED = 1


def handle_errors(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Print a domain error as one clear line and exit non-zero, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except WarmstartError as exc:
            kind = {
                InvalidRequestError: "invalid input",
                NotFoundError: "not found",
                FailedPreconditionError: "cannot proceed",
            }
            label = next((v for k, v in kind.items() if isinstance(exc, k)), "error")
            err_console.print(Text.assemble(("error", "bold red"), f" ({label}): {exc}"))
            code = EXIT_INVALID if isinstance(exc, InvalidRequestError) else EXIT_FAILED
            raise typer.Exit(code) from None

    return wrapper
