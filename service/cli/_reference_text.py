"""Markdown pieces of the command-line reference: help paragraphs and parameter rows.

Used by :mod:`warmstart.service.cli._reference`. Everything is read from the
Click command objects, never from the Rich-rendered ``--help``, so the text
does not depend on the terminal; defaults that differ between machines are
shown as :data:`NONE`.
"""

from __future__ import annotations

import enum
import inspect
import os
import re
import tempfile
from pathlib import Path, PurePath

import typer
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = [
    "NONE",
    "Command",
    "Param",
    "anchor",
    "cell",
    "code",
    "paragraphs",
    "param_row",
    "summary",
    "visible_params",
]

NONE = "—"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")

Command = TyperCommand | TyperGroup
Param = TyperOption | TyperArgument


def visible_params(command: Command, ctx: typer.Context) -> list[Param]:
    """The parameters ``--help`` lists, without ``--help`` itself."""
    help_option = command.get_help_option(ctx)
    params: list[Param] = []
    for param in command.get_params(ctx):
        if param is help_option:
            continue
        if not isinstance(param, TyperOption | TyperArgument):
            raise TypeError(f"not a Typer parameter: {param!r}")
        if not param.hidden:
            params.append(param)
    return params


def param_row(param: Param, command: Command, ctx: typer.Context) -> str:
    """One Markdown table row: names, type, default, required, description."""
    if isinstance(param, TyperOption):
        names = ", ".join(code(opt) for opt in param.opts)
        if param.secondary_opts:
            names += " / " + ", ".join(code(opt) for opt in param.secondary_opts)
    else:
        names = code(param.metavar or param.name or "")
    cells = [
        names,
        _type_text(param, ctx),
        _default_text(param, ctx),
        "yes" if param.required else "no",
        _param_help(param, command),
    ]
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def _type_text(param: Param, ctx: typer.Context) -> str:
    if isinstance(param, TyperOption):
        if param.is_flag:
            return "flag"
        if param.count:
            return "count"
        if param.metavar:
            return code(param.metavar)
    label = param.display_type(ctx)
    if label.startswith("<") and label.endswith(">"):
        label = label[1:-1]
    if param.nargs != 1:
        label += "..."
    return code(label)


def _default_text(param: Param, ctx: typer.Context) -> str:
    """The default as ``--help`` would state it, or "—" when there is none to show."""
    if isinstance(param.show_default, str):
        return _plain(param.show_default) or NONE
    if param.required or not (param.show_default or ctx.show_default):
        return NONE
    default = param.get_default(ctx, call=False)
    if isinstance(param, TyperOption) and param.is_flag and not param.count:
        if param.secondary_opts:  # --x / --no-x: the one that is on by default
            if default is None:
                return NONE
            return code((param.opts if default else param.secondary_opts)[0])
        return "on" if default else "off"
    text = _value_text(default)
    if text is None or _machine_specific(text):
        return NONE
    return code(text)


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


def _param_help(param: Param, command: Command) -> str:
    parts = [" ".join(paragraphs(param.help, command))]
    if param.min is not None or param.max is not None:
        low = "" if param.min is None else f"{param.min} <= "
        high = "" if param.max is None else f" <= {param.max}"
        parts.append(f"Range: {low}x{high}.")
    if param.envvar and param.show_envvar:
        names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
        parts.append("Env: " + ", ".join(f"${name}" for name in names) + ".")
    return " ".join(p for p in parts if p)


def summary(command: Command) -> str:
    """The first paragraph of a command's help (its short help if it has one)."""
    found = paragraphs(command.short_help or command.help, command)
    return found[0].replace("\n", " ") if found else ""


def paragraphs(text: str | None, command: Command) -> list[str]:
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


def _plain(text: str, command: Command | None = None) -> str:
    if command is not None and command.rich_markup_mode == "rich":
        return Text.from_markup(text).plain
    return text


def code(text: str) -> str:
    """Inline code, fenced so that backticks inside survive."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: str) -> str:
    """Text fit for one Markdown table cell."""
    return text.replace("\n", " ").replace("|", "\\|") or " "


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")
