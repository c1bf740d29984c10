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
import enum
import inspect
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

import typer
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from warmstart.service.cli import app as warmstart_app

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
_NONE = "—"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")

_Command = TyperCommand | TyperGroup
_Param = TyperOption | TyperArgument


@dataclass(frozen=True)
class CommandEntry:
    """One command of the tree: its full path (``warmstart bench run``) and its depth."""

    path: str
    depth: int
    command: _Command
    ctx: typer.Context


def iter_commands(app: typer.Typer = warmstart_app) -> Iterator[CommandEntry]:
    """Every visible command, the root first, depth first, in the order Click lists them."""
    root = typer.main.get_command(app)
    if not isinstance(root, TyperCommand | TyperGroup):
        raise TypeError(f"not a Typer command: {root!r}")
    yield from _walk(root, typer.Context(root, info_name=_ROOT_NAME), 0)


def _walk(command: _Command, ctx: typer.Context, depth: int) -> Iterator[CommandEntry]:
    yield CommandEntry(ctx.command_path, depth, command, ctx)
    for sub_name, sub in _subcommands(command, ctx):
        yield from _walk(sub, typer.Context(sub, parent=ctx, info_name=sub_name), depth + 1)


def _subcommands(command: _Command, ctx: typer.Context) -> list[tuple[str, _Command]]:
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
        f"Every command also takes `--help`. A default shown as {_NONE} is none, or one that "
        "depends on the environment or the machine: the description says which.",
        "",
        "## Contents",
        "",
    ]
    for entry in entries:
        summary = _summary(entry.command)
        link = f"[{entry.path}](#{_anchor(entry.path)})"
        out.append("  " * entry.depth + f"- {link}" + (f": {summary}" if summary else ""))
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
    for paragraph in _paragraphs(command.help, command):
        out += [paragraph, ""]
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    out += ["```text", f"Usage: {usage}", "```"]
    subcommands = _subcommands(command, ctx)
    if subcommands:
        out += ["", "| Command | Description |", "| --- | --- |"]
        for sub_name, sub in subcommands:
            path = f"{entry.path} {sub_name}"
            out.append(f"| [`{sub_name}`](#{_anchor(path)}) | {_cell(_summary(sub))} |")
    params = _visible_params(command, ctx)
    arguments = [p for p in params if isinstance(p, TyperArgument)]
    options = [p for p in params if isinstance(p, TyperOption)]
    if arguments:
        out += ["", "Arguments:", ""]
        out += ["| Argument | Type | Default | Required | Description |"]
        out += ["| --- | --- | --- | --- | --- |"]
        out += [_param_row(p, command, ctx) for p in arguments]
    if options:
        out += ["", "Options:", ""]
        out += ["| Option | Type | Default | Required | Description |"]
        out += ["| --- | --- | --- | --- | --- |"]
        out += [_param_row(p, command, ctx) for p in options]
    for paragraph in _paragraphs(command.epilog, command):
        out += ["", paragraph]
    return out


def _visible_params(command: _Command, ctx: typer.Context) -> list[_Param]:
    help_option = command.get_help_option(ctx)
    params: list[_Param] = []
    for param in command.get_params(ctx):
        if param is help_option:
            continue
        if not isinstance(param, TyperOption | TyperArgument):
            raise TypeError(f"not a Typer parameter: {param!r}")
        if not param.hidden:
            params.append(param)
    return params


def _param_row(param: _Param, command: _Command, ctx: typer.Context) -> str:
    if isinstance(param, TyperOption):
        names = ", ".join(_code(opt) for opt in param.opts)
        if param.secondary_opts:
            names += " / " + ", ".join(_code(opt) for opt in param.secondary_opts)
    else:
        names = _code(param.metavar or param.name or "")
    cells = [
        names,
        _type_text(param, ctx),
        _default_text(param, ctx),
        "yes" if param.required else "no",
        _param_help(param, command),
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _type_text(param: _Param, ctx: typer.Context) -> str:
    if isinstance(param, TyperOption):
        if param.is_flag:
            return "flag"
        if param.count:
            return "count"
        if param.metavar:
            return _code(param.metavar)
    label = param.display_type(ctx)
    if label.startswith("<") and label.endswith(">"):
        label = label[1:-1]
    if param.nargs != 1:
        label += "..."
    return _code(label)


def _default_text(param: _Param, ctx: typer.Context) -> str:
    """The default as ``--help`` would state it, or "—" when there is none to show."""
    if isinstance(param.show_default, str):
        return _plain(param.show_default) or _NONE
    if param.required or not (param.show_default or ctx.show_default):
        return _NONE
    default = param.get_default(ctx, call=False)
    if isinstance(param, TyperOption) and param.is_flag and not param.count:
        if param.secondary_opts:  # --x / --no-x: the one that is on by default
            if default is None:
                return _NONE
            return _code((param.opts if default else param.secondary_opts)[0])
        return "on" if default else "off"
    text = _value_text(default)
    if text is None or _machine_specific(text):
        return _NONE
    return _code(text)


def _value_text(value: object) -> str | None:
    if value is None or callable(value):
        return None
    if isinstance(value, list | tuple):
        parts = [_value_text(v) for v in value]
        if not parts or any(p is None for p in parts):
            return None
        return ", ".join(p for p in parts if p is not None)
    if isinstance(value, enum.Enum):
        return _value_text(value.value)
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return '""'
    return str(value)


def _machine_specific(text: str) -> bool:
    """Whether ``text`` holds something that differs between machines or runs."""
    if _ADDRESS.search(text) or " object at " in text:
        return True
    places = {str(Path.home()), os.getcwd(), tempfile.gettempdir()}
    return any(len(p) > 1 and p in text for p in places)


def _param_help(param: _Param, command: _Command) -> str:
    parts = [" ".join(_paragraphs(param.help, command))]
    if param.min is not None or param.max is not None:
        low = "" if param.min is None else f"{param.min} <= "
        high = "" if param.max is None else f" <= {param.max}"
        parts.append(f"Range: {low}x{high}.")
    if param.envvar and param.show_envvar:
        names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
        parts.append("Env: " + ", ".join(f"${name}" for name in names) + ".")
    return " ".join(p for p in parts if p)


def _summary(command: _Command) -> str:
    """The first paragraph of a command's help (its short help if it has one)."""
    paragraphs = _paragraphs(command.short_help or command.help, command)
    return paragraphs[0].replace("\n", " ") if paragraphs else ""


def _paragraphs(text: str | None, command: _Command) -> list[str]:
    """Help text as Markdown paragraphs, the way Typer reads it.

    Dedented, cut at a form feed, Rich markup removed (as Typer renders it in "rich"
    mode); a paragraph that starts with Click's ``\\b`` keeps its lines in a code block,
    others are joined into one line.
    """
    text = inspect.cleandoc(text or "").partition("\f")[0]
    out = []
    for raw in text.split("\n\n"):
        if not raw.strip():
            continue
        if raw.startswith("\b"):
            lines = [_plain(line, command) for line in raw.split("\n")[1:]]
            out.append("\n".join(["```text", *lines, "```"]))
        else:
            out.append(" ".join(_plain(line, command).strip() for line in raw.split("\n")))
    return out


def _plain(text: str, command: _Command | None = None) -> str:
    if command is not None and command.rich_markup_mode == "rich":
        return Text.from_markup(text).plain
    return text


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    """Text fit for one Markdown table cell."""
    return text.replace("\n", " ").replace("|", "\\|") or " "


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


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
