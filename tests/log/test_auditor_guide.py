"""docs/audit-log.md: every `$ ordinance …` command, as printed and in order, exits 0
(blocks that illustrate an error message are shown, not run).

The commands run in a directory next to a workspace with a governance history (the tamper
suite's story: a roster, approvals, a waiver, promotions, a revocation, a key rotation), with
the workspace's `log.vkey` copied in, as the guide describes.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest
from governance_support import build_story

from ordinance._cli import main

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "audit-log.md"


def commands() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", GUIDE.read_text(), re.S)
    out = []
    for block in blocks:
        if "\nerror:" in block:
            continue  # an illustration of a failure, not a command to run
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("$ ordinance "):
                out.append(line[2:].split("  #")[0].strip())
    return out


def test_the_guide_has_commands() -> None:
    cmds = commands()
    assert len(cmds) >= 12
    assert any("--deep" in c and "--bundle" in c and "--vkey" in c for c in cmds)


def test_guide_commands_work_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    story = build_story(tmp_path / "team")
    work = tmp_path / "auditor"
    work.mkdir()
    shutil.copy(story.home / "keys" / "log.vkey", work / "log.vkey")
    monkeypatch.chdir(work)
    monkeypatch.setenv("ORDINANCE_HOME", str(story.home))
    capsys.readouterr()
    for cmd in commands():
        argv = shlex.split(cmd)
        target = None
        if ">" in argv:
            pos = argv.index(">")
            argv, target = argv[:pos], argv[pos + 1]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(argv[1:])
        err = capsys.readouterr().err
        assert code == 0, f"{cmd!r} exited {code}: {err}"
        if target is not None:
            Path(target).write_text(buf.getvalue())
    assert (work / "entry-3.tlog-proof").read_text().startswith("c2sp.org/tlog-proof@v1\n")
    assert (work / "tiles" / "checkpoint").is_file()
    assert "witness.audit-firm.example" in (work / "witness.state").read_text()
