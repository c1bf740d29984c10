"""docs/CLI.md: rendered from the commands, current, complete and the same on every machine."""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.core import TyperGroup

from warmstart.service.cli import app
from warmstart.service.cli._reference import (
    REFERENCE_PATH,
    REGENERATE_COMMAND,
    main,
    render_reference,
)

REPO = Path(__file__).resolve().parents[2]
HEADING = re.compile(r"^#{2,6} (.+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def reference() -> str:
    return render_reference()


def _command_paths(command: object, path: str) -> list[str]:
    """Every visible command path under ``command``, walked independently of the renderer."""
    paths = [path]
    if not isinstance(command, TyperGroup):
        return paths
    ctx = typer.Context(command)  # Click's listing, which loads lazily imported commands
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            paths += _command_paths(sub, f"{path} {name}")
    return paths


def test_docs_cli_md_is_current(reference: str) -> None:
    path = REPO / REFERENCE_PATH
    stored = path.read_bytes().decode("utf-8") if path.is_file() else ""
    if stored != reference:
        diff = difflib.unified_diff(
            stored.splitlines(), reference.splitlines(), "docs/CLI.md", "rendered", lineterm=""
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(
            f"{REFERENCE_PATH} is out of date: run `{REGENERATE_COMMAND}`\n{shown}", pytrace=False
        )


def test_every_command_path_has_a_heading(reference: str) -> None:
    paths = _command_paths(typer.main.get_command(app), "warmstart")
    assert {"warmstart bench run", "warmstart kb build", "warmstart model promote"} <= set(paths)
    headings = HEADING.findall(reference)
    assert sorted(headings) == sorted(["Contents", *paths])
    for path in paths:  # and each is linked from the contents
        assert f"[{path}](#{path.replace(' ', '-')})" in reference


def test_rendering_is_deterministic(
    reference: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert render_reference() == reference
    # Another terminal, working directory and home: the same bytes.
    monkeypatch.setenv("COLUMNS", "37")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WARMSTART_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert render_reference() == reference


def test_no_machine_specific_strings(reference: str) -> None:
    places = {str(Path.home()), os.getcwd(), tempfile.gettempdir(), str(REPO)}
    for text in ["/work", "/root", "/tmp", "0x", *(p for p in places if len(p) > 1)]:
        assert text not in reference, f"{text!r} in the rendered reference"


def test_defaults_hidden_and_machine_specific_values() -> None:
    """Hidden commands and options stay out; defaults from the machine render as "—"."""
    tiny = typer.Typer()
    home_default = Path.home() / "x"
    here_default = Path.cwd()

    @tiny.command()
    def shown(
        name: Annotated[str, typer.Argument(help="A name.")],
        home: Annotated[Path, typer.Option(help="Under the home.")] = home_default,
        here: Annotated[Path, typer.Option(help="Here.")] = here_default,
        rel: Annotated[Path, typer.Option(help="Relative.")] = Path("docs/results"),
        level: Annotated[int, typer.Option("-l", "--level", help="A | level.")] = 3,
        secret: Annotated[str, typer.Option(hidden=True)] = "s3cret",
        told: Annotated[
            str | None, typer.Option(help="Env-computed.", show_default="$TOLD or 1")
        ] = None,
        on: Annotated[bool, typer.Option("--on/--off", help="Flag pair.")] = False,
    ) -> None:
        """First paragraph.

        Second paragraph,
        on two lines.
        """

    @tiny.command(hidden=True)
    def invisible() -> None:
        """Hidden."""

    text = render_reference(tiny)
    assert "## warmstart shown" in text
    assert "invisible" not in text
    assert "--secret" not in text
    assert "s3cret" not in text
    assert "First paragraph.\n\nSecond paragraph, on two lines.\n" in text
    assert "Usage: warmstart shown [OPTIONS] {name}" in text
    assert "| `name` | `str` | — | yes | A name. |" in text
    assert "| `--home` | `path` | — | no | Under the home. |" in text
    assert "| `--here` | `path` | — | no | Here. |" in text
    assert "| `--rel` | `path` | `docs/results` | no | Relative. |" in text
    assert "| `-l`, `--level` | `int` | `3` | no | A \\| level. |" in text
    assert "| `--told` | `str` | $TOLD or 1 | no | Env-computed. |" in text
    assert "| `--on` / `--off` | flag | `--off` | no | Flag pair. |" in text
    assert "--help" not in text.split("## warmstart shown", 1)[1]


def test_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "docs" / "CLI.md"
    assert main(["--write", str(out)]) == 0
    assert main(["--check", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    assert main(["--check", str(out)]) == 1
    message = capsys.readouterr().err
    assert "is out of date: run `python -m warmstart.service.cli._reference --write " in message
    out.unlink()
    assert main(["--check", str(out)]) == 1
