"""Optuna and hyperopt are optional: importing the package must not need them."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_the_optimizers() -> None:
    code = (
        "import sys, service.seeding; "
        "loaded = [m for m in ('optuna', 'hyperopt', 'ray', 'smac') if m in sys.modules]; "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
