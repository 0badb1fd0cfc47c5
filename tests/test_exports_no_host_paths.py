"""Exports carry no host paths: log entries, bundles and JSON results name policy files by
their reference (``ordinance:NAME`` or a relative path), never by where they sit on disk."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from helpers import run_cli, small_manifest

REPO = Path(__file__).resolve().parents[1]


def test_no_host_path_in_entries_bundles_or_results(tmp_path: Path) -> None:
    home = tmp_path / "proj" / ".ordinance"
    assert run_cli("--home", home, "init").code == 0
    policies = tmp_path / "proj" / "policies"
    policies.mkdir()
    base = (REPO / "policies" / "baseline.yaml").read_text()
    (policies / "ours.yaml").write_text(base.replace("name: baseline", "name: ours", 1))
    cfg = yaml.safe_load((home / "config.yaml").read_text())
    cfg["policies"]["staging"] = ["../policies/ours.yaml", "ordinance:baseline"]
    (home / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert run_cli("--home", home, "register", small_manifest(tmp_path / "m")).code == 0
    assert run_cli("--home", home, "promote", "toy@1.0.0", "--to", "staging").code in (0, 1)
    check = run_cli("--home", home, "check", "toy@1.0.0", "--stage", "staging", "--format", "json")
    shown = run_cli("--home", home, "log", "show", "--format", "json")
    bundle = tmp_path / "bundle"
    assert run_cli("--home", home, "log", "export", "--out", bundle).code == 0

    hosts = (str(tmp_path), str(REPO), "site-packages")
    texts = [check.out, shown.out]
    for f in bundle.iterdir():
        texts.append(f.read_text())
    for line in (bundle / "entries.jsonl").read_text().splitlines():
        texts.append(base64.b64decode(json.loads(line)["payload"]).decode())
    for text in texts:
        for host in hosts:
            assert host not in text
    uris = {p["uri"] for p in check.json()["policies"]}
    assert uris == {"../policies/ours.yaml", "ordinance:baseline"}
