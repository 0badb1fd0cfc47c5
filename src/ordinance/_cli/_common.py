"""Helpers shared by the command modules: the lazy workspace, output, progress."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

if TYPE_CHECKING:
    from ordinance.client import Remote
    from ordinance.workspace import Workspace

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Ctx:
    """Global options; the workspace is opened only when a command needs it."""

    home: str | None
    db: str | None
    url: str | None = None
    _ws: Workspace | None = field(default=None, repr=False)
    _remote: Remote | None = field(default=None, repr=False)
    cleanup: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def remote(self) -> Remote | None:
        """The server client when ``--url``/``ORDINANCE_URL`` is set (server mode)."""
        if self._remote is None and self.url:
            from ordinance.client import remote_from_env

            self._remote = remote_from_env(self.url)
        return self._remote

    def local_only(self, what: str) -> None:
        """Refuse a command that has no server-mode form yet."""
        if self.url:
            from ordinance.errors import InputError

            raise InputError(
                f"{what} is not available in server mode (ORDINANCE_URL is set); "
                "run it on the server's workspace"
            )

    def workspace(self) -> Workspace:
        """The local workspace; in server mode, a command that got here has no server form
        (it would act on a local workspace instead of the server's): refused, named."""
        if self.url:
            command = click.get_current_context(silent=True)
            name = command.command_path.removeprefix("ordinance ") if command else "this command"
            self.local_only(name)
        if self._ws is None:
            from ordinance.workspace import Workspace

            self._ws = Workspace.open(Path(self.home) if self.home else None, db_url=self.db)
            if sys.stdin.isatty():
                self._ws.passphrase_prompt = ask_log_key_passphrase
        return self._ws

    def close(self) -> None:
        for fn in self.cleanup:
            fn()
        self.cleanup.clear()
        if self._remote is not None:
            self._remote.close()
            self._remote = None
        if self._ws is not None:
            self._ws.close()
            self._ws = None


pass_ctx = click.make_pass_decorator(Ctx)


def ask_log_key_passphrase(confirm: bool = False) -> bytes:
    """Ask on the terminal (never echoed) for the log key's passphrase."""
    value: str = click.prompt(
        "Log key passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return value.encode()


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    """``--format`` with the given choices (``text`` and ``json`` at least)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="Output format; json keys are stable and documented.",
    )


#: The environment variable naming who runs a command that writes (CI: the pipeline's identity).
ACTOR_ENV = "ORDINANCE_ACTOR"


def actor_option(what: str = "Who asks") -> Callable[[F], F]:
    """``--actor ID``: the identity recorded in the log (default ``$ORDINANCE_ACTOR``)."""
    return click.option(
        "--actor",
        metavar="ID",
        help=f"{what} (recorded in the log). Default: ${ACTOR_ENV}; one of them is required.",
    )


def require_actor(actor: str | None, command: str) -> str:
    """The explicit identity for a write: ``--actor``, else ``$ORDINANCE_ACTOR``, else exit 2.

    Never guessed (no ``$USER``, never ``unknown``): a log entry names who did it.
    """
    from ordinance.errors import InputError

    value = (actor if actor is not None else os.environ.get(ACTOR_ENV, "")).strip()
    if not value:
        raise InputError(
            f"{command} records who does it: pass --actor ID or set {ACTOR_ENV} "
            "(in server mode the token's identity is used)"
        )
    return value


def vkey_arg(value: str) -> str:
    """A vkey given inline, or the path of a (small, regular) file holding one."""
    p = Path(value)
    if "+" not in value or p.is_file():
        from ordinance._files import read_text_limited

        return read_text_limited(p).strip()
    return value


def emit_json(data: Any) -> None:
    """Write ``data`` as pretty JSON to stdout (ASCII: every control character is escaped)."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=True, default=str))


# C0 controls but tab and newline, DEL, C1 controls (0x9b is an 8-bit CSI), and the Unicode
# bidirectional overrides that make text display in another order than it reads.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with terminal escapes and other control characters shown as U+FFFD."""
    return _UNPRINTABLE.sub("\ufffd", text)


class _PrintableStream:
    """A text stream that passes everything through :func:`printable`.

    Manifest fields, actors and reasons come from other people: printed raw, an escape
    sequence could rewrite the screen, retitle the terminal or hide a line. Every byte of
    text the CLI writes goes through here, so no command has to remember.
    """

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


@contextmanager
def printable_output() -> Iterator[None]:
    """Filter ``sys.stdout`` and ``sys.stderr`` through :func:`printable` for a CLI run."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = _PrintableStream(out)
    sys.stderr = _PrintableStream(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def raw_stderr() -> TextIO:
    """The unfiltered stderr, for rich's progress bars (which draw with escapes)."""
    err = sys.stderr
    return err.raw if isinstance(err, _PrintableStream) else err


def info(message: str) -> None:
    """Human text goes to stderr so stdout can carry data."""
    click.echo(message, err=True)


def write_output(text: str, output: str | None) -> None:
    """Write to a file atomically, or to stdout."""
    if output is None or output == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    from ordinance._files import atomic_write_text

    atomic_write_text(Path(output), text)
    info(f"wrote {output}")


def progress(items: Iterable[T], total: int | None, label: str) -> Iterator[T]:
    """A rich progress bar on a terminal (stderr); plain iteration otherwise."""
    if not sys.stderr.isatty():
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(file=raw_stderr())
