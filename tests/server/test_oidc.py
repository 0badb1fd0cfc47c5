"""OIDC ID tokens from CI, verified against a local issuer's JWKS served on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from server_support import Issuer

from ordinance.server import create_app
from ordinance.workspace import Workspace, init_workspace


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    i = Issuer()
    yield i
    i.close()


@pytest.fixture
def client(tmp_path: Path, issuer: Issuer) -> Iterator[TestClient]:
    home = tmp_path / "srv"
    init_workspace(home).close()
    cfg = (home / "config.yaml").read_text()
    cfg += (
        "server:\n  oidc:\n"
        f"    - issuer: {issuer.url}\n"
        "      audience: ordinance.test\n"
        '      identity: "github:{repository}"\n'
        "      scope: ci\n"
        "      claims: {repository_owner: acme}\n"
    )
    (home / "config.yaml").write_text(cfg)
    ws = Workspace.open(home)
    try:
        with TestClient(create_app(ws)) as c:
            yield c
    finally:
        ws.close()


def _whoami(client: TestClient, token: str) -> Any:
    return client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})


def test_a_valid_ci_id_token_is_a_ci_principal(client: TestClient, issuer: Issuer) -> None:
    r = _whoami(client, issuer.token())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["identity"] == "github:acme/credit"
    assert body["scope"] == "ci" and body["via"] == "oidc"
    assert "sign" not in body["capabilities"]  # CI can never approve or waive


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"aud": "someone-else"}, "Audience"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"repository_owner": "evil"}, "repository_owner"),
        ({"iss": "http://127.0.0.1:1"}, "not trusted"),
    ],
)
def test_bad_id_tokens_are_refused(
    client: TestClient, issuer: Issuer, claims: dict[str, Any], message: str
) -> None:
    r = _whoami(client, issuer.token(**claims))
    assert r.status_code == 401
    assert message in r.json()["error"]["message"]


def test_an_id_token_signed_by_another_key_is_refused(client: TestClient, issuer: Issuer) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = _whoami(client, issuer.token(key=other))
    assert r.status_code == 401
    assert "Signature" in r.json()["error"]["message"]


def test_an_oidc_ci_principal_cannot_submit_approvals(client: TestClient, issuer: Issuer) -> None:
    r = client.post(
        "/v1/approvals",
        json={"envelope": {}, "model": "m", "version": "1", "stage": "production"},
        headers={"Authorization": f"Bearer {issuer.token()}"},
    )
    assert r.status_code == 403
    assert "may not submit approvals" in r.json()["error"]["message"]
