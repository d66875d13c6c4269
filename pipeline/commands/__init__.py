"""Sub-commands of ``odczyt``: one module per area, each with ``register(app: typer.Typer)``."""
