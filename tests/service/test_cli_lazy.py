"""The command line imports a command's module only when that command is used; --version."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata

import pytest
from typer.testing import CliRunner

from warmstart.service.cli import COMMANDS, app
from warmstart.service.cli._lazy import LazyCommand

runner = CliRunner()

# Importing any of these takes a few hundred milliseconds on this kind of machine.
HEAVY = ["ConfigSpace", "sklearn", "lightgbm", "pandas", "torch", "scipy", "grpc"]


def _imported_after(args: list[str]) -> dict[str, object]:
    """Run ``warmstart ARGS`` in a fresh interpreter; what it printed and imported."""
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from service.cli import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "modules = sorted(m for m in sys.modules if m.startswith('warmstart.service.cli.')"
        f" or m.split('.')[0] in {HEAVY!r})\n"
        "print(json.dumps({'exit': result.exit_code, 'output': result.output,"
        " 'modules': modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_help_lists_every_command_without_importing_any() -> None:
    found = _imported_after(["--help"])
    assert found["exit"] == 0
    output = str(found["output"])
    for command in COMMANDS:
        assert command.name in output
        assert command.short_help.split()[0] in output
    assert found["modules"] == ["warmstart.service.cli._lazy"]


def test_a_light_command_loads_its_own_module_and_no_heavy_library() -> None:
    found = _imported_after(["db", "--help"])
    assert found["exit"] == 0
    assert "upgrade" in str(found["output"])
    modules = found["modules"]
    assert isinstance(modules, list)
    assert "warmstart.service.cli._db" in modules
    assert not [m for m in modules if m.split(".")[0] in HEAVY], modules
    assert "warmstart.service.cli._bench" not in modules


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.name)
def test_the_listed_short_help_is_the_commands_own(command: LazyCommand) -> None:
    # The listing is written out in service/cli/__init__.py so that --help needs no
    # import; it must say what the command's docstring or Typer help says.
    loaded = command.load()
    assert loaded.name == command.name
    own = (loaded.short_help or loaded.help or "").split("\n\n")[0].strip()
    assert " ".join(own.split()) == command.short_help


def test_groups_keep_the_commands_their_other_modules_add() -> None:
    expected = {
        "kb": {"build", "info", "compare"},
        "features": {"compute", "export", "import"},
        "model": {"info", "list", "promote", "rollback"},
    }
    for group, names in expected.items():
        result = runner.invoke(app, [group, "--help"])
        assert result.exit_code == 0, result.output
        for name in names:
            assert name in result.output, (group, name)


def test_a_mistyped_command_is_refused_with_the_closest_lazy_one() -> None:
    result = runner.invoke(app, ["serv"])
    assert result.exit_code == 2
    assert "No such command 'serv'" in result.output
    assert "Did you mean 'serve'" in result.output
    result = runner.invoke(app, ["nothing-like-it"])
    assert result.exit_code == 2
    assert "No such command 'nothing-like-it'" in result.output


def test_version_names_warmstart_python_and_the_libraries_without_importing_them() -> None:
    found = _imported_after(["--version"])
    assert found["exit"] == 0
    line = str(found["output"]).strip()
    assert line.startswith(f"warmstart {metadata.version('warmstart')} (")
    assert f"python {platform.python_version()}" in line
    for name in ("lightgbm", "scikit-learn", "ConfigSpace", "torch", "grpcio"):
        assert f"{name} {metadata.version(name)}" in line
    assert found["modules"] == ["warmstart.service.cli._lazy", "warmstart.service.cli._versions"]
