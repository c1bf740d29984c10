"""Ship the knowledge base (kb/) in wheels, as the data package ``warmstart_kb``.

Everything else is configured in pyproject.toml. Package discovery there cannot
map a folder to another package name, so this hook adds kb/ to the packages
``build_py`` copies; ``warmstart quickstart`` finds the installed copy when no
source tree's kb/ is beside the code (service/cli/_quickstart.py,
``default_kb_dir``). The sdist carries kb/ too, so a wheel built from it has it.
"""

from __future__ import annotations

from setuptools import setup
from setuptools.command.build_py import build_py

KB_SOURCE = "kb"
KB_PACKAGE = "warmstart_kb"
KB_DATA = {
    KB_PACKAGE: ["*.parquet", "*.toml", "*.json", "*.md"],
    f"{KB_PACKAGE}.models": ["*.wsb"],
}


class BuildPyWithKnowledgeBase(build_py):
    """``build_py`` that also copies kb/ to ``warmstart_kb/`` of the build."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.packages = [*self.packages, *(p for p in KB_DATA if p not in self.packages)]
        self.package_dir = {**self.package_dir, KB_PACKAGE: KB_SOURCE}
        self.package_data = {**self.package_data, **KB_DATA}


if __name__ == "__main__":  # as build backends run it; tests import it for KB_DATA
    setup(cmdclass={"build_py": BuildPyWithKnowledgeBase})
