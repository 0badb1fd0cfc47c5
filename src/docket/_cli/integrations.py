"""Placeholder: this command family is not built yet."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add this family's commands to ``cli`` (none yet)."""
