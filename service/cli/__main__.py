"""``python -m warmstart.service.cli`` runs the warmstart CLI."""

from __future__ import annotations

from warmstart.service.cli import main

main()
