"""The command-line reference, docs/CLI.md, rendered from the Typer app's commands.

    python -m warmstart.service.cli._reference                          # print it
    python -m warmstart.service.cli._reference --write docs/CLI.md      # regenerate the file
    python -m warmstart.service.cli._reference --check docs/CLI.md   # exit 1 if it is stale

The Markdown comes from the command objects' attributes (help, usage pieces, parameter
names, types, defaults), never from the Rich-rendered ``--help``: it does not depend on
the terminal's width, and defaults that would differ between machines (a path under the
home, working or temporary directory, an object's address) are shown as "—".
``tests/service/test_cli_reference.py`` fails when docs/CLI.md differs from
:func:`render_reference`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from warmstart.service.cli import app as warmstart_app
from warmstart.service.cli._reference_text import (
    NONE,
    Command,
    anchor,
    cell,
    paragraphs,
    param_row,
    summary,
    visible_params,
)

__all__ = [
    "REFERENCE_PATH",
    "REGENERATE_COMMAND",
    "CommandEntry",
    "check",
    "iter_commands",
    "main",
    "render_reference",
]

REFERENCE_PATH = "docs/CLI.md"
REGENERATE_COMMAND = f"python -m warmstart.service.cli._reference --write {REFERENCE_PATH}"
_ROOT_NAME = "warmstart"


@dataclass(frozen=True)
class CommandEntry:
    """One command of the tree: its full path (``warmstart bench run``) and its depth."""

    path: str
    depth: int
    command: Command
    ctx: typer.Context


def iter_commands(app: typer.Typer = warmstart_app) -> Iterator[CommandEntry]:
    """Every visible command, the root first, depth first, in the order Click lists them."""
    root = typer.main.get_command(app)
    if not isinstance(root, TyperCommand | TyperGroup):
        raise TypeError(f"not a Typer command: {root!r}")
    yield from _walk(root, typer.Context(root, info_name=_ROOT_NAME), 0)


def _walk(command: Command, ctx: typer.Context, depth: int) -> Iterator[CommandEntry]:
    yield CommandEntry(ctx.command_path, depth, command, ctx)
    for sub_name, sub in _subcommands(command, ctx):
        yield from _walk(sub, typer.Context(sub, parent=ctx, info_name=sub_name), depth + 1)


def _subcommands(command: Command, ctx: typer.Context) -> list[tuple[str, Command]]:
    if not isinstance(command, TyperGroup):
        return []
    found = []
    for sub_name in command.list_commands(ctx):
        sub = command.get_command(ctx, sub_name)
        if sub is None or sub.hidden:
            continue
        if not isinstance(sub, TyperCommand | TyperGroup):
            raise TypeError(f"not a Typer command: {sub!r}")
        found.append((sub_name, sub))
    return found


def render_reference(app: typer.Typer = warmstart_app) -> str:
    """The whole reference as Markdown; the same bytes on every machine and terminal."""
    entries = list(iter_commands(app))
    out = [
        f"# {_ROOT_NAME} command-line reference",
        "",
        f"Generated from the commands themselves by `{REGENERATE_COMMAND}`; "
        "do not edit it by hand. `make test` fails when it is out of date.",
        "",
        f"Every command also takes `--help`. A default shown as {NONE} is none, or one that "
        "depends on the environment or the machine: the description says which.",
        "",
        "## Contents",
        "",
    ]
    for entry in entries:
        first = summary(entry.command)
        link = f"[{entry.path}](#{anchor(entry.path)})"
        out.append("  " * entry.depth + f"- {link}" + (f": {first}" if first else ""))
    for entry in entries:
        out.append("")
        out.extend(_render_command(entry))
    return "\n".join(out) + "\n"


def _render_command(entry: CommandEntry) -> list[str]:
    command, ctx = entry.command, entry.ctx
    out = ["#" * (2 + max(entry.depth - 1, 0)) + f" {entry.path}", ""]
    if command.deprecated:
        note = command.deprecated if isinstance(command.deprecated, str) else ""
        out += [f"**Deprecated.** {note}".rstrip(), ""]
    for paragraph in paragraphs(command.help, command):
        out += [paragraph, ""]
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    out += ["```text", f"Usage: {usage}", "```"]
    subcommands = _subcommands(command, ctx)
    if subcommands:
        out += ["", "| Command | Description |", "| --- | --- |"]
        for sub_name, sub in subcommands:
            path = f"{entry.path} {sub_name}"
            out.append(f"| [`{sub_name}`](#{anchor(path)}) | {cell(summary(sub))} |")
    params = visible_params(command, ctx)
    arguments = [p for p in params if isinstance(p, TyperArgument)]
    options = [p for p in params if isinstance(p, TyperOption)]
    if arguments:
        out += ["", "Arguments:", ""]
        out += ["| Argument | Type | Default | Required | Description |"]
        out += ["| --- | --- | --- | --- | --- |"]
        out += [param_row(p, command, ctx) for p in arguments]
    if options:
        out += ["", "Options:", ""]
        out += ["| Option | Type | Default | Required | Description |"]
        out += ["| --- | --- | --- | --- | --- |"]
        out += [param_row(p, command, ctx) for p in options]
    for paragraph in paragraphs(command.epilog, command):
        out += ["", paragraph]
    return out


def check(path: Path, reference: str | None = None) -> str | None:
    """None if ``path`` holds the current reference, else what is wrong and how to fix it."""
    expected = (render_reference() if reference is None else reference).encode("utf-8")
    fix = f"run `python -m warmstart.service.cli._reference --write {path.as_posix()}`"
    if not path.is_file():
        return f"{path.as_posix()} is missing: {fix}"
    if path.read_bytes() != expected:
        return f"{path.as_posix()} is out of date: {fix}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Print the reference, write it (``--write PATH``) or check a file (``--check PATH``)."""
    parser = argparse.ArgumentParser(
        prog="python -m warmstart.service.cli._reference",
        description="Render the warmstart command-line reference (Markdown).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", type=Path, metavar="PATH", help="Write the reference here.")
    mode.add_argument(
        "--check", type=Path, metavar="PATH", help="Exit 1 if PATH differs from the reference."
    )
    args = parser.parse_args(argv)
    if args.check is not None:
        problem = check(args.check)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 1
        return 0
    reference = render_reference()
    if args.write is not None:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_bytes(reference.encode("utf-8"))
        return 0
    sys.stdout.write(reference)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
