"""The ``odczyt`` command: a typer app whose sub-commands live in ``pipeline/commands``.

Each module there exposes ``register(app)``; they are found at start-up so each area of the code adds its
own commands without touching this file. Settings are built here, at the entry point, and passed down.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

import typer

from pipeline import commands

app = typer.Typer(
    name="odczyt",
    help="odczyt — wireless M-Bus water-meter readings to billing data and alarms.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
