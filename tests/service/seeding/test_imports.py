"""The seeding helpers are light: importing them loads no optimizer and nothing heavy."""

from __future__ import annotations

import subprocess
import sys

_HEAVY = (
    "optuna",
    "hyperopt",
    "ray",
    "smac",
    "lightgbm",
    "grpc",
    "sqlalchemy",
    "warmstart.service.server",
    "warmstart.metamodel.store",
    "warmstart.metamodel.surrogate",
)


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys; {statement}; print(' '.join(m for m in {_HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_import_does_not_load_the_optimizers_or_the_server() -> None:
    # warmstart.seeding imports warmstart.service.seeding: one interpreter checks both.
    names = "to_raytune_space, to_smac_initial_design, config_from_raytune"
    assert _loaded_after(f"from warmstart.seeding import {names}") == []


def test_the_sampler_loads_optuna_when_first_used() -> None:
    assert _loaded_after("from warmstart.seeding import WarmstartSampler") == ["optuna"]


def test_without_optuna_the_sampler_names_the_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['optuna'] = None\n"
        "try:\n    from warmstart.seeding import WarmstartSampler\n"
        "except ModuleNotFoundError as exc:\n    print(exc.name, '|', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "optuna | WarmstartSampler is an Optuna sampler and needs Optuna: "
        "pip install 'warmstart[optimizers]'"
    )
