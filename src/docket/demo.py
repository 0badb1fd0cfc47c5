"""``docket demo``: the whole Docket story, end to end, in a fresh workspace on SQLite.

The demo builds two versions of a synthetic credit-risk model, registers both, and then
walks each capability as a named step. It leaves the workspace in ``DIR/.docket`` so that
every other command can be tried on it afterwards (``cd DIR && docket models``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from docket.errors import InputError
from docket.workspace import HOME_DIRNAME, Workspace, init_workspace

Say = Callable[[str], None]


@dataclass
class DemoState:
    directory: Path
    ws: Workspace
    manifests: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)


def run_demo(directory: Path, *, rows: int = 4000, seed: int = 7, say: Say = print) -> DemoState:
    """Run every demo step; raise on the first step that does not behave as the story says."""
    home = directory / HOME_DIRNAME
    if home.exists():
        if not (home / "config.yaml").is_file():
            raise InputError(f"{home} exists but is not a Docket workspace; choose another --dir")
        shutil.rmtree(home)
    directory.mkdir(parents=True, exist_ok=True)
    ws = init_workspace(home, origin="docket.local/demo")
    state = DemoState(directory=directory, ws=ws)
    say(f"== Docket demo in {directory} (workspace {home}, SQLite)")
    try:
        for step in _steps():
            step(state, rows, seed, say)
    finally:
        ws.close()
    say(f"== done. Try: cd {directory} && docket models && docket show credit-risk@1.1.0")
    return state


def _steps() -> list[Callable[[DemoState, int, int, Say], None]]:
    return [step_generate, step_register]


def step_generate(state: DemoState, rows: int, seed: int, say: Say) -> None:
    from docket.examples.credit_risk import write_version

    base = state.directory / "credit-risk"
    v1 = write_version(base / "v1.0.0", version="1.0.0", variant="proxy", rows=rows, seed=seed)
    v2 = write_version(
        base / "v1.1.0", version="1.1.0", variant="fair", rows=rows, seed=seed, parent="1.0.0"
    )
    state.manifests = {"1.0.0": v1.manifest, "1.1.0": v2.manifest}
    say(f"-- generated two versions of credit-risk under {base} (v1.0.0 uses a postcode proxy)")


def step_register(state: DemoState, rows: int, seed: int, say: Say) -> None:
    for manifest in state.manifests.values():
        res = state.ws.register(manifest)
        v = res.version
        say(
            f"-- registered {v.ref}: identity sha256:{v.identity.sha256[:16]}…, "
            f"{len(v.evidence)} evidence files, log entry {res.log_index}"
        )
