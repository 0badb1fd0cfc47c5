"""Ordinance's command line: the only package that imports click (and rich).

The CLI is a thin layer: it parses options, calls the core, renders results, and
maps :class:`ordinance.errors.OrdinanceError` to its exit code in one place (:func:`main`).
Each command family lives in its own module with a ``register(cli)`` function.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import click

from ordinance.errors import EXIT_INTERNAL, EXIT_USAGE, OrdinanceError

from ._common import Ctx, printable_output

# Command families, each a module in this package with ``register(cli: click.Group)``.
_COMMAND_MODULES = (
    "registry",
    "keys",
    "log",
    "metrics",
    "policy",
    "approvals",
    "report",
    "integrations",
    "server",
)

#: Which module registers each top-level command, so that running one command imports only
#: its module (``ordinance --version`` imports none). A command missing here still works: an
#: unknown name loads every module. ``tests/test_cli_lazy.py`` keeps this map exact.
_COMMANDS: dict[str, str] = {
    "init": "registry",
    "db": "registry",
    "register": "registry",
    "models": "registry",
    "show": "registry",
    "evidence": "registry",
    "demo": "registry",
    "keys": "keys",
    "log": "log",
    "index": "log",
    "metrics": "metrics",
    "explain": "metrics",
    "check": "policy",
    "policy": "policy",
    "roster": "approvals",
    "approve": "approvals",
    "decline": "approvals",
    "revoke": "approvals",
    "waive": "approvals",
    "approvals": "approvals",
    "promote": "approvals",
    "rollback": "approvals",
    "archive": "approvals",
    "history": "approvals",
    "attest": "approvals",
    "verify-attestation": "approvals",
    "card": "report",
    "report": "report",
    "publish": "report",
    "import": "integrations",
    "serve": "server",
    "token": "server",
}


class _LazyGroup(click.Group):
    """A group whose command modules are imported when one of their commands is needed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()

    def _load(self, module: str) -> None:
        if module not in self._loaded:
            self._loaded.add(module)
            import_module(f"{__name__}.{module}").register(self)

    def load_all(self) -> None:
        for module in _COMMAND_MODULES:
            self._load(module)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is not None:
            self._load(module)
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self.load_all()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return super().list_commands(ctx)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="ordinance", prog_name="ordinance")
@click.option(
    "--home",
    envvar="ORDINANCE_HOME",
    type=click.Path(file_okay=False),
    help="Workspace directory (default: ./.ordinance). Env: ORDINANCE_HOME.",
)
@click.option(
    "--db",
    envvar="ORDINANCE_DB",
    help="SQLAlchemy database URL, e.g. postgresql://user@host/db. Env: ORDINANCE_DB.",
)
@click.option(
    "--url",
    envvar="ORDINANCE_URL",
    help="An Ordinance server (server mode; the token comes from ORDINANCE_TOKEN). "
    "Env: ORDINANCE_URL.",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None, db: str | None, url: str | None) -> None:
    """Ordinance: policy-gated ML model governance with a signed audit log.

    Exit codes: 0 ok, 1 policy or verification failure, 2 usage or input error,
    3 internal or infrastructure error.
    """
    ctx.obj = Ctx(home=home, db=db, url=url or None)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; the one place errors become exit codes."""
    with printable_output():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    try:
        rv = cli.main(args=argv, prog_name="ordinance", standalone_mode=False)
    except OrdinanceError as exc:
        click.echo(f"ordinance: error: {exc.message}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("ordinance: aborted", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("ordinance: interrupted", err=True)
        return 130
    except OSError as exc:
        click.echo(f"ordinance: error: {exc}", err=True)
        return EXIT_INTERNAL
    except Exception as exc:  # a bug: say so plainly, never a traceback for users
        click.echo(
            f"ordinance: internal error: {type(exc).__name__}: {exc} "
            "(set ORDINANCE_DEBUG=1 for a traceback)",
            err=True,
        )
        if _debug():
            raise
        return EXIT_INTERNAL
    return rv if isinstance(rv, int) else 0


def _debug() -> bool:
    import os

    return os.environ.get("ORDINANCE_DEBUG", "") not in ("", "0")


def entrypoint() -> None:
    sys.exit(main())
