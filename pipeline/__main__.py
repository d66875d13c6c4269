"""``python -m pipeline`` runs the odczyt CLI."""

from pipeline.cli import main

main()
