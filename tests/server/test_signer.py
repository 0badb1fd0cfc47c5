"""The log signer is an extension point: a signer that is not a key file (a KMS or PKCS#11
stand-in) injected into the workspace signs every checkpoint the server writes."""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi.testclient import TestClient

from helpers import small_manifest
from ordinance.log.sources import DbSource
from ordinance.log.verify import verify_source
from ordinance.signing import Ed25519Signer, VerifierKey
from ordinance.tokens import TokenStore
from ordinance.workspace import Workspace, init_workspace


class RemoteKeySigner:
    """Implements the ``Signer`` protocol without any key file (as a KMS client would)."""

    def __init__(self, name: str) -> None:
        self._key = Ed25519Signer.generate(name)  # stands in for the HSM-held key
        self.name, self.key_id = name, self._key.key_id
        self.sigtype, self.public_key = self._key.sigtype, self._key.public_key
        self.calls = 0

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        return self._key.sign(message)


def test_an_injected_signer_signs_the_log_and_no_key_file_is_read(tmp_path: Path) -> None:
    from ordinance.server import create_app

    home = tmp_path / "srv"
    init_workspace(home, origin="ordinance.test/kms").close()
    (home / "keys" / "log.key").unlink()  # the key lives "in the KMS" now
    ws = Workspace.open(home)
    signer = RemoteKeySigner("ordinance.test/kms")
    ws.log_signer = signer
    token, _ = TokenStore(ws.engine()).create("ci", "ci")
    m = small_manifest(tmp_path / "m")
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ws)) as c:
        files = {}
        for rel in ("model/weights.bin", "preds.csv", "datasheet.md", "train.csv"):
            data = (m.parent / rel).read_bytes()
            import hashlib

            digest = hashlib.sha256(data).hexdigest()
            assert c.put(f"/v1/blobs/sha256/{digest}", content=data, headers=h).status_code == 200
            files[rel] = digest
        r = c.post(
            "/v1/versions",
            json={
                "manifest_name": "manifest.yaml",
                "manifest": base64.b64encode(m.read_bytes()).decode(),
                "files": files,
            },
            headers=h,
        )
        assert r.status_code == 200, r.text
    assert signer.calls >= 1
    vkey = VerifierKey(signer.name, signer.sigtype, signer.public_key).vkey
    report = verify_source(DbSource(ws.engine()), vkey)
    assert report.ok and report.size == 1
    ws.close()
