"""``python -m service.cli`` runs the warmstart CLI."""

from __future__ import annotations

from service.cli import main

main()
