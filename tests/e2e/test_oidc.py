"""Single sign-on: access tokens of an OpenID Connect issuer (a real local JWKS endpoint), and what is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.api import data, error
from tests.support.oidc import Issuer
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("sso")
    env = {
        "CLEARWAY_OIDC_ISSUER": issuer.url,
        "CLEARWAY_OIDC_AUDIENCE": "clearway",
        "CLEARWAY_OIDC_ADMIN_ROLES": "clearway-admin,RootAdmin",
        "CLEARWAY_OIDC_CREATE_USERS": "true",
    }
    with running_server(data_dir, **env) as proc:
        yield proc


def get_all(server: ServerProcess, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/tasks.get_all", headers={"Authorization": f"Bearer {token}"})


def name() -> str:
    return f"sso-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_an_issuer_token_is_accepted_on_every_request(sso_server: ServerProcess, issuer: Issuer, alg: str):
    token = issuer.token(name(), alg=alg)
    assert data(get_all(sso_server, token))["tasks"] == []
    # The admin API is admins only: a plain SSO user is refused there.
    assert (
        httpx.get(f"{sso_server.url}/admin/api/users", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    )


def test_auth_login_with_an_issuer_token_returns_our_own_token(sso_server: ServerProcess, issuer: Issuer):
    who = name()
    login = httpx.get(f"{sso_server.url}/auth.login", headers={"Authorization": f"Bearer {issuer.token(who)}"})
    ours = data(login)["token"]
    claims = jwt.decode(ours, options={"verify_signature": False})
    assert claims["identity"]["user_name"] == who and claims["api_version"] == "2.31"
    assert jwt.get_unverified_header(ours)["alg"] == "HS256"
    assert data(get_all(sso_server, ours))["tasks"] == []


def test_the_roles_claim_makes_admins_and_follows_the_issuer(sso_server: ServerProcess, issuer: Issuer):
    who = name()
    admin_token = issuer.token(who, roles=["offline_access", "RootAdmin"])
    headers = {"Authorization": f"Bearer {admin_token}"}
    users = httpx.get(f"{sso_server.url}/admin/api/users", headers=headers)
    assert users.status_code == 200 and who in [u["name"] for u in users.json()]
    # The issuer takes the role away: the next token makes the same user a plain user again.
    demoted = {"Authorization": f"Bearer {issuer.token(who, roles=['offline_access'])}"}
    assert httpx.get(f"{sso_server.url}/admin/api/users", headers=demoted).status_code == 403
    auditor = {"Authorization": f"Bearer {issuer.token(name(), roles=['clearway-admin'])}"}
    entries = httpx.get(f"{sso_server.url}/admin/api/audit", headers=auditor, params={"action": "user.role"}).json()
    changes = [(e["detail"]["old"], e["detail"]["new"]) for e in entries["entries"] if e["actor_name"] == who]
    assert changes[0] == ("admin", "user") and all(e["detail"]["via"] == "oidc" for e in entries["entries"])


def test_a_flat_roles_claim_is_not_read_unless_configured(sso_server: ServerProcess, issuer: Issuer):
    token = issuer.token(name(), roles=[], roles_flat=["clearway-admin"])
    assert (
        httpx.get(f"{sso_server.url}/admin/api/users", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    )


def _foreign_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _segment(value: bytes | dict) -> str:
    raw = json.dumps(value).encode() if isinstance(value, dict) else value
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hs256_with_public_key(issuer: Issuer) -> str:
    """The old key confusion trick: an HS256 token "signed" with the issuer's public key as the HMAC secret."""
    secret = (
        issuer.keys["RS256"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    claims = {"iss": issuer.url, "aud": "clearway", "exp": int(time.time()) + 300, "preferred_username": name()}
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': issuer.kids['RS256']})}.{_segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_segment(signature)}"


def refused_tokens(issuer: Issuer) -> dict[str, str]:
    with Issuer(realm="other") as foreign:
        foreign_token = foreign.token(name())
    now = int(time.time())
    unsigned = {"iss": issuer.url, "aud": "clearway", "exp": now + 300, "preferred_username": name()}
    return {
        "expired": issuer.token(name(), expires_in=-120),
        "foreign issuer": foreign_token,
        "bad signature": issuer.token(name(), signing_key=_foreign_rsa_key()),
        "wrong audience": issuer.token(name(), audience="someone-else"),
        "no username": issuer.token("", alg="ES256"),
        "unsigned": jwt.encode(unsigned, None, algorithm="none"),
        "key confusion": _hs256_with_public_key(issuer),
    }


def test_expired_foreign_forged_and_misdirected_tokens_are_refused(sso_server: ServerProcess, issuer: Issuer):
    for why, token in refused_tokens(issuer).items():
        for path in ("/tasks.get_all", "/auth.login"):
            response = httpx.get(f"{sso_server.url}{path}", headers={"Authorization": f"Bearer {token}"})
            code, subcode, _msg = error(response)
            assert (code, subcode) in ((401, 30), (401, 22)), (why, path, response.text)


def test_the_sdk_logs_in_with_clearml_auth_token(sso_server: ServerProcess, issuer: Issuer, tmp_path: Path):
    creds = {
        "CLEARML_API_HOST": sso_server.url,
        "CLEARML_WEB_HOST": sso_server.url,
        "CLEARML_FILES_HOST": f"{sso_server.url}/files",
        "CLEARML_AUTH_TOKEN": issuer.token(name(), expires_in=3600),
    }
    script = """
    from clearml import Task
    task = Task.create(project_name="sso project", task_name="via sso")
    print("TASKS", [t.name for t in Task.get_tasks(project_name="sso project")])
    """
    out = run_sdk(script, creds, tmp_path / "sdk")
    assert last_line_value(out.stdout, "TASKS") == "['via sso']"
