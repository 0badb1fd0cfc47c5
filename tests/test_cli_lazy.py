"""The CLI imports a command's module only when that command runs; the name map is exact."""

from __future__ import annotations

import subprocess
import sys

import click


def test_command_map_names_every_command_and_its_module() -> None:
    from ordinance import _cli

    found: dict[str, str] = {}
    for module in _cli._COMMAND_MODULES:
        group = click.Group()
        __import__(f"ordinance._cli.{module}", fromlist=["register"]).register(group)
        for name in group.commands:
            assert name not in found, f"{name} registered by {found[name]} and {module}"
            found[name] = module
    assert found == _cli._COMMANDS


def test_version_imports_no_command_module_and_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from ordinance._cli import main\n"
        "rc = main(['--version'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'pandas', 'numpy', 'jinja2', 'ordinance.workspace'))\n"
        "cmds = sorted(m for m in sys.modules if m.startswith('ordinance._cli.') "
        "and m != 'ordinance._cli._common')\n"
        "print(rc, heavy, cmds)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 [] []"


def test_help_lists_every_command() -> None:
    from click.testing import CliRunner

    from ordinance._cli import _COMMANDS, cli

    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in _COMMANDS:
        assert name in result.output
