"""The server answers the C2SP tlog-tiles paths under /v1/log, and a client written from the
spec (tests/log/tiles_client.py) proves inclusion and consistency from them alone."""

from __future__ import annotations

import base64

import httpx
from team_support import Team

from log.tiles_client import TilesClient
from ordinance._canonical import canonical_json
from ordinance.log import merkle
from ordinance.log.note import Checkpoint, SignedNote, verify_note
from ordinance.signing import PAYLOAD_TYPE_INTOTO, load_signer, parse_vkey, sign_envelope


def _envelopes(team: Team, start: int, count: int) -> list[bytes]:
    vera = load_signer(team.vera.key)
    out = []
    for i in range(start, start + count):
        stmt = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "tiles", "digest": {"sha256": f"{i:064x}"}}],
            "predicateType": "https://ordinance.dev/bench-event/v1",
            "predicate": {"n": i},
        }
        out.append(sign_envelope(canonical_json(stmt), PAYLOAD_TYPE_INTOTO, [vera]).to_bytes())
    return out


def _append(c: httpx.Client, envs: list[bytes]) -> None:
    r = c.post(
        "/v1/log/envelopes", json={"envelopes": [base64.b64encode(e).decode() for e in envs]}
    )
    assert r.status_code == 200, r.text


def _checkpoint(c: httpx.Client, vkey: str) -> Checkpoint:
    r = c.get("/v1/log/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.headers["cache-control"] == "max-age=1"  # mutable: a few seconds at most
    note = SignedNote.parse(r.text)
    verify_note(note, [parse_vkey(vkey)])
    return Checkpoint.from_text(note.text)


def test_tiles_client_proves_inclusion_and_consistency_from_the_server(team: Team) -> None:
    headers = {"Authorization": f"Bearer {team.admin_token}"}
    with httpx.Client(base_url=team.url, headers=headers, timeout=60) as c:
        vkey = c.get("/v1/log/vkey").text.strip()
        first = _envelopes(team, 0, 300)
        _append(c, first)
        old = _checkpoint(c, vkey)  # read-your-writes: the append is in it at once
        assert old.size >= 300
        second = _envelopes(team, 300, 300)
        _append(c, second)
        new = _checkpoint(c, vkey)
        assert new.size == old.size + 300

        fetched: list[str] = []

        def fetch(path: str) -> bytes:
            fetched.append(path)
            r = c.get(f"/v1/log/{path}")
            assert r.status_code == 200, (path, r.text)
            assert r.headers["content-type"] == "application/octet-stream"
            full = ".p/" not in path
            assert ("immutable" in r.headers["cache-control"]) == full, path
            return r.content

        client = TilesClient(fetch, new.size)
        assert client.root() == new.root
        base = new.size - 600  # where our entries start (the roster etc. came first)
        for k in (0, 255, 299, 300, 599):
            i = base + k
            entry = client.entry(i)
            assert entry == (first + second)[k]
            path = client.inclusion(i)
            assert merkle.verify_inclusion(i, new.size, merkle.leaf_hash(entry), path, new.root)
            assert not merkle.verify_inclusion(i, new.size, merkle.leaf_hash(b"x"), path, new.root)
        proof = client.consistency(old.size)
        assert merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
        assert not merkle.verify_consistency(old.size, new.size, proof, new.root, new.root)
        assert any(p.startswith("tile/0/") for p in fetched)
        assert any(p.startswith("tile/1/") for p in fetched)  # above one full tile
        assert any(p.startswith("tile/entries/") for p in fetched)

        # entry bundles are compressed when the client accepts gzip (httpx decodes them)
        r = c.get("/v1/log/tile/entries/000", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        # beyond the checkpoint: 404; a malformed path: 400; no token: 401
        far = c.get(f"/v1/log/tile/0/{(new.size // 256 + 1):03d}")
        assert far.status_code == 404, far.text
        assert c.get("/v1/log/tile/0/1").status_code == 400
        assert c.get("/v1/log/tile/0/000.p/256").status_code == 400
    assert httpx.get(f"{team.url}/v1/log/tile/0/000", timeout=30).status_code == 401
