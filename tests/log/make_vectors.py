"""Write the conformance vectors under docs/vectors/: good and bad audit bundles with the
expected verification results, for third-party verifiers (and tests/log/test_conformance.py).

    python tests/log/make_vectors.py docs/vectors

Each vector is a bundle directory (docs/log-format.md §7) plus, where the case needs them, a
trusted checkpoint and a witness vkey; docs/vectors/index.json says how to verify each one
(pinned vkey, options) and what must come out: exit code, ok, first bad index, and words the
reason contains (Ordinance's wording; other verifiers need only match ok and the index).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import test_deep_tamper as cases  # noqa: E402
from governance_support import build_story, write_bundle  # noqa: E402

BAD = [
    "edit_byte",
    "delete_entry",
    "swap_entries",
    "append_unsigned",
    "truncate_against_trusted",
    "fork_against_trusted",
    "forged_checkpoint",
    "origin_mismatch",
    "cosignature_timestamp",
    "approval_signed_by_other",
    "approval_signed_by_log_key",
    "waiver_without_role",
    "waiver_by_author",
    "roster_change_by_non_admin",
    "naive_rewrite",
    "stale_key_after_rotation",
    "rotation_without_old_key",
    "transition_role_not_held",
    "duplicate_key_payload",
    "missing_newline",
    "stale_checkpoint_file",
]


def main(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        story = build_story(Path(tmp))
    keys = out / "keys"
    keys.mkdir()
    (keys / "log-old.vkey").write_text(story.log_keys[0].vkey + "\n")
    (keys / "log-new.vkey").write_text(story.log_keys[-1].vkey + "\n")
    index = []

    def add(name: str, t: cases.Tampered, vkey: str, expect: dict[str, object], desc: str) -> None:
        d = out / name
        d.mkdir()
        write_bundle(t.story, d / "bundle")
        if t.bundle_hook:
            t.bundle_hook(d / "bundle")
        args = ["--vkey", f"keys/{vkey}", "--deep"]
        if t.trusted:
            (d / "trusted.checkpoint").write_text(t.trusted)
            args += ["--trusted-checkpoint", f"{name}/trusted.checkpoint"]
        if t.witness:
            (d / "witness.vkey").write_text(t.witness + "\n")
            args += ["--witness-vkey", f"{name}/witness.vkey"]
        index.append(
            {
                "name": name,
                "description": desc,
                "bundle": f"{name}/bundle",
                "args": args,
                "expect": expect,
            }
        )

    good = cases.Tampered(story, None, "")
    add(
        "good-pin-old-key",
        good,
        "log-old.vkey",
        {"exit": 0, "ok": True},
        "a genuine governance log (every predicate type, a key rotation); the first log key pinned",
    )
    add(
        "good-pin-new-key",
        good,
        "log-new.vkey",
        {"exit": 0, "ok": True},
        "the same log; the rotated-to key pinned",
    )
    for name in BAD:
        t = cases.CASES[name](story)
        doc = (cases.CASES[name].__doc__ or name.replace("_", " ")).strip().splitlines()[0]
        add(
            f"bad-{name.replace('_', '-')}",
            t,
            "log-old.vkey",
            {"exit": 1, "ok": False, "first_bad_index": t.index, "reason_contains": t.words},
            doc,
        )
    (out / "index.json").write_text(
        json.dumps({"format": "ordinance-log-vectors/v1", "vectors": index}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/vectors"))
