"""The ``odczyt`` command: a typer app whose sub-commands live in ``pipeline/commands``.

Each module there exposes ``register(app)``; they are found at start-up so each area of the code adds its
own commands without touching this file. Settings are built in the commands, at the entry point, and passed
down; ``--config FILE`` (or ``ODCZYT_ENV_FILE``) names the env file every command's ``Settings()`` reads.

**Errors.** :func:`main` runs the app and turns a user's or the environment's mistake into ONE line on stderr
(``odczyt: error: …`` saying what is wrong and what to do) and exit code 2; only a bug prints a traceback.
A command reports a mistake by raising any ``core.errors.OdczytError`` — ``core.errors.UserError`` for bad
input, ``ConfigError`` for settings — or ``typer.BadParameter``; enum options are annotated ``Literal[...]``
and times use ``parser=pipeline.cli_params.when``. Foreign errors that reach here are translated by
:func:`describe`: PostgreSQL unreachable or unmigrated, settings that do not validate, missing or unreadable
files, serial ports, refused connections. ``--verbose`` adds the traceback. In-process tests call :func:`run`.

**Start-up.** ``odczyt decode …`` is run once per telegram by people and scripts: :func:`main` sends it to
``pipeline.commands.decode.fast_main`` before typer, the command modules, psycopg or pydantic are imported
(only ``--help`` goes through typer). For every other command the typer app is built on first use
(``app``, :func:`run`), registering every module of ``pipeline/commands``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path  # typer reads the annotation of --config; site has imported pathlib already
from typing import TYPE_CHECKING, Any

from core.errors import OdczytError, UserError

if TYPE_CHECKING:
    import typer

    app: typer.Typer  # built on first use: module __getattr__ below

EXIT_USER_ERROR = 2
_APP: list[Any] = []


def _version(value: bool) -> None:
    from importlib import metadata

    import typer

    if value:
        try:
            version = metadata.version("odczyt")
        except metadata.PackageNotFoundError:
            version = "unknown (not installed)"
        typer.echo(f"odczyt {version}")
        raise typer.Exit()


def _root(verbose: bool, config: Path | None) -> None:
    import logging

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if config is not None:
        if not config.is_file():
            raise UserError(f"config file {config} {'is not a file' if config.exists() else 'does not exist'} "
                            "(--config / ODCZYT_ENV_FILE): give the path of an env file with ODCZYT_* lines")
        with config.open(encoding="utf-8"):  # unreadable: PermissionError, reported as one line
            pass
        os.environ["ODCZYT_ENV_FILE"] = str(config.resolve())  # every Settings() of this process and its children


def _build_app() -> typer.Typer:
    """The typer app with every command module of ``pipeline/commands`` registered."""
    import importlib
    import pkgutil

    import typer

    from pipeline import commands

    built = typer.Typer(
        name="odczyt",
        help="odczyt — wireless M-Bus water-meter readings to billing data and alarms.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @built.callback()
    def _callback(
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages (and tracebacks of errors)."),
        config: Path = typer.Option(None, "--config", envvar="ODCZYT_ENV_FILE", metavar="FILE",
                                    help="Env file with ODCZYT_* settings (default ./.env); also ODCZYT_ENV_FILE."),
        _show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
    ) -> None:
        _root(verbose, config)

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(built)
    return built


def _get_app() -> typer.Typer:
    if not _APP:
        _APP.append(_build_app())
    app_: typer.Typer = _APP[0]
    return app_


def __getattr__(name: str) -> Any:
    """``pipeline.cli.app`` and ``pipeline.cli.run``: the typer app is built (every command module imported and
    registered) on first access, so ``from pipeline.cli import run`` registers the commands at import as before."""
    if name == "app":
        return _get_app()
    if name == "run":
        _get_app()
        return _run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_PG_UNREACHABLE = re.compile(r'connection to server (?:at "([^"]+)"(?: \([^)]*\))?, port (\d+)|on socket "([^"]+)")')


def _postgres(exc: BaseException) -> str:
    text = str(exc).strip()
    where = _PG_UNREACHABLE.search(text)
    place = "the configured address"
    if where:
        place = f"{where.group(1)}:{where.group(2)}" if where.group(1) else where.group(3)
    reasons = [ln.rsplit("failed: ", 1)[1] for ln in text.splitlines() if "failed: " in ln] or [
        ln for ln in text.splitlines() if ln.strip()][-1:]
    reason = (reasons[-1] if reasons else type(exc).__name__).removeprefix("FATAL:").strip()
    if "password" in reason or "does not exist" in reason or "role" in reason:
        return f"PostgreSQL at {place} refused the connection ({reason}): check ODCZYT_DATABASE_URL"
    return f"cannot reach PostgreSQL at {place} ({reason}): is it running? check ODCZYT_DATABASE_URL"


def _in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, kind):
        seen = seen.__cause__
    return seen


def _unreachable_postgres(exc: BaseException) -> BaseException | None:
    import psycopg

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.OperationalError) or _PG_UNREACHABLE.search(str(seen)):
            return seen
        seen = seen.__cause__
    return None


_SECRET_NAMES = ("url", "key", "password", "token", "secret")


def _settings(exc: Any) -> str:
    parts = []
    for err in exc.errors()[:3]:
        name = "ODCZYT_" + "__".join(str(p) for p in err.get("loc", ())).upper()
        shown = "" if any(s in name.lower() for s in _SECRET_NAMES) else f" (got {str(err.get('input'))[:40]!r})"
        parts.append(f"{name}: {err.get('msg')}{shown}")
    return "bad setting " + "; ".join(parts) + " — fix the environment or the env file (--config)"


def _oserror(exc: OSError) -> str | None:
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)):
        name = exc.filename if exc.filename is not None else "file"
        advice = {FileNotFoundError: "check the path", PermissionError: "check its owner and mode"}
        return f"cannot open {name}: {exc.strerror or exc}: {advice.get(type(exc), 'give a file path')}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused ({exc}): is the server running? check the URL settings (ODCZYT_*_URL)"
    return None


def describe(exc: BaseException) -> str | None:
    """The one-line message for an exception that is a user's or the environment's mistake, None for a bug."""
    if isinstance(exc, OdczytError) and exc.__cause__ is None and not _PG_UNREACHABLE.search(str(exc)):
        return str(exc)  # the common case, without importing the database driver
    import psycopg
    import pydantic
    from pydantic_settings import SettingsError

    postgres = _unreachable_postgres(exc)
    if postgres is not None:
        return _postgres(postgres)
    missing = _in_chain(exc, psycopg.errors.UndefinedTable)
    if missing is not None:
        return f"the database has no odczyt schema ({str(missing).splitlines()[0]}): run 'odczyt db migrate'"
    if isinstance(exc, OdczytError):
        return str(exc)
    if isinstance(exc, pydantic.ValidationError) and exc.title == "Settings":
        return _settings(exc)
    if isinstance(exc, SettingsError):
        return f"bad setting: {exc} — fix the environment or the env file (--config)"
    if type(exc).__module__.startswith("serial"):
        return f"serial port: {exc}: check the port name, that the receiver is plugged in, and permissions"
    if isinstance(exc, OSError):
        return _oserror(exc)
    return None


def _fail(message: str, *, code: int = EXIT_USER_ERROR) -> int:
    one_line = " ".join(message.split())
    print(f"odczyt: error: {one_line}", file=sys.stderr)
    return code


def _run(args: list[str] | None = None) -> int:
    """Run the CLI with ``args`` (default ``sys.argv[1:]``) and return the exit code; see the module docstring."""
    import typer
    from typer._click import exceptions as click_exc  # typer ≥ 0.29 vendors click

    command = typer.main.get_command(_get_app())
    try:
        code = command.main(args=args, prog_name="odczyt", standalone_mode=False)
    except click_exc.NoArgsIsHelpError as exc:
        if exc.format_message().strip():  # typer's rich help prints itself and leaves the message empty
            typer.echo(exc.format_message())
        return EXIT_USER_ERROR
    except click_exc.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx else "odczyt"
        return _fail(f"{exc.format_message().replace('Value error, ', '')} (see '{path} --help')")
    except click_exc.ClickException as exc:
        return _fail(exc.format_message(), code=exc.exit_code)
    except typer.Abort:
        return _fail("aborted", code=1)
    except BrokenPipeError:  # `odczyt … | head`: the reader left, nothing to report
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes it at exit
        return 1
    except Exception as exc:  # the one place foreign errors become a line or stay a traceback
        message = describe(exc)
        if message is None:
            raise
        import logging
        import traceback

        if logging.getLogger().isEnabledFor(logging.DEBUG):
            traceback.print_exc()
        return _fail(message)
    return code if isinstance(code, int) else 0


def _run_decode(args: list[str]) -> int:
    """``odczyt decode …`` without building the typer app (start-up); errors as :func:`run` reports them."""
    from pipeline.commands.decode import fast_main

    try:
        return fast_main(args)
    except BrokenPipeError:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes it at exit
        return 1
    except Exception as exc:
        message = describe(exc)
        if message is None:
            raise
        return _fail(message)


def main() -> None:
    """Console-script entry point."""
    args = sys.argv[1:]
    if args[:1] == ["decode"] and not {"--help", "-h"} & set(args):
        sys.exit(_run_decode(args[1:]))
    sys.exit(_run())


if TYPE_CHECKING:
    run = _run

if __name__ == "__main__":
    main()
