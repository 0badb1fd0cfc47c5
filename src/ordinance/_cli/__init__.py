"""Ordinance's command line: the only package that imports click (and rich).

The CLI is a thin layer: it parses options, calls the core, renders results, and
maps :class:`ordinance.errors.OrdinanceError` to its exit code in one place (:func:`main`).
Each command family lives in its own module with a ``register(cli)`` function.
"""

from __future__ import annotations

import sys
from importlib import import_module

import click

from ordinance.errors import EXIT_INTERNAL, EXIT_USAGE, OrdinanceError

from ._common import Ctx

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
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
@click.pass_context
def cli(ctx: click.Context, home: str | None, db: str | None) -> None:
    """Ordinance: policy-gated ML model governance with a signed audit log.

    Exit codes: 0 ok, 1 policy or verification failure, 2 usage or input error,
    3 internal or infrastructure error.
    """
    ctx.obj = Ctx(home=home, db=db)
    ctx.call_on_close(ctx.obj.close)


for _name in _COMMAND_MODULES:
    import_module(f"{__name__}.{_name}").register(cli)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; the one place errors become exit codes."""
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
