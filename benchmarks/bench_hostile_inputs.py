"""How long Ordinance takes to refuse hostile files: each must be exit 2 within a second or two.

    python benchmarks/bench_hostile_inputs.py [--repeat R]

Setup (not timed): a workspace with one registered version, and for each case a hostile file:
a 2.9 KB YAML alias bomb (75**9 nodes once expanded), a 9 MiB document, a FIFO with no writer,
a link to ``/dev/zero``, a symlink loop, manifest references escaping the manifest's directory.

Timed: the refusing command, in process (``ordinance register``, ``check --policy``,
``policy lint``, ``roster apply``, ``models`` on a hostile config); wall and CPU time (best of R).
Prints one line per case with its exit code; any exit code but 2 is reported as FAIL.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import yaml

BOMB = (
    "l0: &l0 ["
    + ",".join(["lol"] * 75)
    + "]\n"
    + "".join(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 75) + "]\n" for i in range(1, 9))
)


LAST_ERR: list[str] = [""]


def _cli(*args: str | Path) -> int:
    from ordinance._cli import main

    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main([str(a) for a in args])
    LAST_ERR[0] = err.getvalue().strip().splitlines()[0] if err.getvalue().strip() else ""
    return code


def _manifest(d: Path, **extra: object) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.bin").write_bytes(b"weights")
    (d / "datasheet.md").write_text("# data\n")
    doc = {
        "apiVersion": "ordinance/v1",
        "model": {"name": "toy", "owner": "team", "risk_tier": "high"},
        "version": "1.0.0",
        "author": "alice@example.com",
        "artifacts": {"path": "model.bin"},
        "evidence": [{"kind": "datasheet", "path": "datasheet.md"}],
        **extra,
    }
    p = d / "manifest.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ord-hostile-"))
    try:
        home = tmp / ".ordinance"
        assert _cli("--home", home, "init") == 0
        assert _cli("--home", home, "register", _manifest(tmp / "ok")) == 0

        def file_case(make: Callable[[Path], object]) -> Path:
            p = tmp / f"case-{time.monotonic_ns()}.yaml"
            make(p)
            return p

        def escaping(ref: str, link: str | None = None, fifo: bool = False) -> Path:
            d = tmp / f"esc-{time.monotonic_ns()}"
            m = _manifest(d, evidence=[{"kind": "datasheet", "path": ref}])
            if link is not None:
                os.symlink(link, d / ref)
            if fifo:
                os.mkfifo(d / ref)
            return m

        bomb = file_case(lambda p: p.write_text(BOMB))
        big = file_case(lambda p: p.write_bytes(b"# pad\n" * (9 * 1024 * 1024 // 6)))
        fifo = file_case(lambda p: os.mkfifo(p))
        zero = file_case(lambda p: os.symlink("/dev/zero", p))
        loop = file_case(lambda p: os.symlink(p, p))
        cases: list[tuple[str, tuple[str | Path, ...]]] = [
            ("register: alias bomb manifest", ("register", bomb)),
            ("register: 9 MiB manifest", ("register", big)),
            ("register: FIFO manifest", ("register", fifo)),
            ("register: /dev/zero manifest", ("register", zero)),
            ("register: symlink-loop manifest", ("register", loop)),
            ("register: evidence /etc/passwd", ("register", escaping("/etc/passwd"))),
            ("register: evidence ../x", ("register", escaping("../x"))),
            (
                "register: evidence link to log key",
                ("register", escaping("k.csv", str(home / "keys" / "log.key"))),
            ),
            ("register: evidence FIFO", ("register", escaping("f.csv", fifo=True))),
            (
                "check --policy alias bomb",
                ("check", "toy@1.0.0", "--stage", "staging", "--policy", bomb),
            ),
            ("check --policy FIFO", ("check", "toy@1.0.0", "--stage", "staging", "--policy", fifo)),
            ("policy lint /dev/zero", ("policy", "lint", zero)),
            ("roster apply alias bomb", ("roster", "apply", bomb, "--actor", "admin")),
            ("roster apply FIFO", ("roster", "apply", fifo, "--actor", "admin")),
        ]
        print(f"{'case':40} {'exit':>4} {'wall ms':>8} {'cpu ms':>8}")
        worst = 0.0
        for label, argv in cases:
            best_wall, best_cpu, code = float("inf"), float("inf"), -1
            for _ in range(args.repeat):
                w0, c0 = time.perf_counter(), time.process_time()
                code = _cli("--home", home, *argv)
                best_wall = min(best_wall, time.perf_counter() - w0)
                best_cpu = min(best_cpu, time.process_time() - c0)
            worst = max(worst, best_wall)
            flag = "" if code == 2 else "  FAIL (expected exit 2)"
            print(f"{label:40} {code:>4} {best_wall * 1000:8.1f} {best_cpu * 1000:8.1f}{flag}")
            print(f"    {LAST_ERR[0].replace(str(tmp), '$TMP')[:110]}")
        print(f"slowest refusal: {worst * 1000:.1f} ms (target: under 1,000 ms)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
