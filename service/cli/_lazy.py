"""Commands whose modules are imported when they are used, not when the CLI starts.

The heavy commands pull in ConfigSpace (and with it SciPy), scikit-learn, LightGBM,
pandas and PyTorch. Importing every command module up front made each ``warmstart``
invocation, ``--help`` included, pay for all of them. :class:`LazyGroup` knows each
command by name, short help and where it is defined (:class:`LazyCommand`), imports
that module the first time the command is resolved, and lists the commands in
``--help`` from the short help alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, ClassVar

import typer
from typer._click.exceptions import UsageError  # what Typer's own resolve_command catches
from typer.core import TyperCommand, TyperGroup

__all__ = ["LazyCommand", "LazyGroup"]


@dataclass(frozen=True)
class LazyCommand:
    """Where a top-level command is defined, and what ``warmstart --help`` says of it.

    Attributes:
        name: The command's name on the command line.
        target: ``module:attribute`` of a Typer app (a command group) or of a
            command function.
        short_help: The command's one-line help, as listed by ``warmstart --help``
            (a test checks it against the loaded command's).
        also: Modules that add commands to the target's group when imported.
    """

    name: str
    target: str
    short_help: str
    also: tuple[str, ...] = ()

    def load(self) -> Any:
        """Import the target's module (and ``also``) and build the Click command."""
        module_name, _, attribute = self.target.partition(":")
        target = getattr(importlib.import_module(module_name), attribute)
        for extra in self.also:
            importlib.import_module(extra)
        command: Any
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            single = typer.Typer(add_completion=False)
            single.command(self.name)(target)
            command = typer.main.get_command(single)
        command.name = self.name
        return command

    def listing(self) -> TyperCommand:
        """A stand-in that carries only the name and short help, for listing."""
        return TyperCommand(name=self.name, help=self.short_help, callback=None)


class LazyGroup(TyperGroup):
    """A Typer group whose ``lazy`` commands are imported on first use.

    Subclasses set ``lazy``. Resolving a command (to run it or show its own help)
    imports it; the group's own ``--help`` lists every command from
    :attr:`LazyCommand.short_help` without importing any.
    """

    lazy: ClassVar[Mapping[str, LazyCommand]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        """The registered commands, then the lazy ones, in the order they were declared."""
        names = super().list_commands(ctx)
        return [*names, *(name for name in self.lazy if name not in names)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``, imported on first use (a stand-in while listing)."""
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in self.lazy:
            return found
        entry = self.lazy[cmd_name]
        if self._listing:
            return entry.listing()
        command = entry.load()
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """This group's help, listing the lazy commands without importing them."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As Typer's, with the lazy commands among the close matches of a typo."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError as error:
            if args and "Did you mean" not in error.message:
                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    suggestions = ", ".join(f"{match!r}" for match in matches)
                    error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise
