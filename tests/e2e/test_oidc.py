"""Single sign-on: access tokens of an OpenID Connect issuer (a real local JWKS endpoint), and what is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.api import data, error
from tests.support.clients import client_for
from tests.support.oidc import Issuer
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess, running_server
from tests.support.standin_serving import StandinServing

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
        "CLEARWAY_OIDC_CLIENT_ID": "clearway-web",
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


def test_a_name_of_another_organisations_user_is_never_mapped_to_it(sso_server: ServerProcess, issuer: Issuer):
    """Names are unique across the server: an SSO name that is another organisation's user is refused, neither
    logged in as that user nor created a second time."""
    who = name()
    sso_server.user(who, org=f"not-sso-{uuid.uuid4().hex[:6]}")
    code, subcode, _ = error(get_all(sso_server, issuer.token(who)))
    assert (code, subcode) == (401, 22)
    assert error(httpx.get(f"{sso_server.url}/auth.login", headers={"Authorization": f"Bearer {issuer.token(who)}"}))


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


@pytest.fixture(scope="module")
def troubled_issuer() -> Iterator[Issuer]:
    with Issuer(realm="troubled") as running:
        yield running


@pytest.fixture(scope="module")
def troubled_server(tmp_path_factory: pytest.TempPathFactory, troubled_issuer: Issuer) -> Iterator[ServerProcess]:
    env = {
        "CLEARWAY_OIDC_ISSUER": troubled_issuer.url,
        "CLEARWAY_OIDC_AUDIENCE": "clearway",
        "CLEARWAY_OIDC_CREATE_USERS": "true",
        "CLEARWAY_OIDC_RETRY_SEC": "1",
    }
    with running_server(tmp_path_factory.mktemp("troubled-sso"), **env) as proc:
        yield proc


def _junk_tokens(issuer: Issuer) -> list[str]:
    """RS256 tokens that are not the issuer's: forged with its name and a made-up key id, or of other issuers."""
    forged_key = _foreign_rsa_key()
    now = int(time.time())
    forged = [
        jwt.encode(
            {"iss": issuer.url, "aud": "clearway", "exp": now + 300, "preferred_username": name()},
            forged_key,
            algorithm="RS256",
            headers={"kid": uuid.uuid4().hex},
        )  # fmt: skip
        for _ in range(24)
    ]
    foreign = [
        jwt.encode(
            {"iss": f"https://elsewhere.example/{i}", "aud": "clearway", "exp": now + 300},
            forged_key,
            algorithm="RS256",
            headers={"kid": "k"},
        )  # fmt: skip
        for i in range(24)
    ]
    return forged + foreign


def test_an_unreachable_issuer_never_delays_requests_without_oidc(
    troubled_server: ServerProcess, troubled_issuer: Issuer
):
    """48 concurrent junk RS256 tokens against an issuer that answers after 8 s (past the fetch timeout): API-key
    users are answered as usual meanwhile; the issuer is asked a few times, not once per token; and once it is
    back, its tokens are accepted again without a restart."""
    keyed = client_for(troubled_server, troubled_server.user(f"keyed-{uuid.uuid4().hex[:6]}"))
    troubled_issuer.delay = 8.0
    outcomes: list[int] = []

    def junk(token: str) -> None:
        outcomes.append(get_all(troubled_server, token).status_code)

    storm = [threading.Thread(target=junk, args=(t,)) for t in _junk_tokens(troubled_issuer)]
    storm.append(threading.Thread(target=junk, args=(troubled_issuer.token(name()),)))
    with keyed:
        for thread in storm:
            thread.start()
        slowest = 0.0
        while any(thread.is_alive() for thread in storm):
            started = time.monotonic()
            assert keyed.get("/tasks.get_all").status_code == 200
            slowest = max(slowest, time.monotonic() - started)
        for thread in storm:
            thread.join()
    # A liveness bound, far from the 5-15 s stalls an issuer in trouble once caused.
    assert slowest < 2.5, f"an API-key request waited {slowest:.1f} s behind OIDC trouble"
    assert outcomes == [401] * len(storm)
    assert troubled_issuer.hits <= 3, "every junk token made the server ask the issuer"

    troubled_issuer.delay = 0.0
    valid = troubled_issuer.token(name())
    deadline = time.monotonic() + 30
    while get_all(troubled_server, valid).status_code != 200:
        assert time.monotonic() < deadline, "the issuer's keys were never fetched again after it recovered"
        time.sleep(0.2)


def test_tokens_clearly_not_the_issuers_are_refused_without_asking_it(
    troubled_server: ServerProcess, troubled_issuer: Issuer
):
    troubled_issuer.down = True
    try:
        before = troubled_issuer.hits
        with Issuer(realm="stranger") as stranger:
            tokens = [
                stranger.token(name()),  # another issuer
                troubled_issuer.token(name(), audience="someone-else"),
                troubled_issuer.token(name(), expires_in=-120),
                jwt.encode({"iss": troubled_issuer.url, "aud": "clearway"}, _foreign_rsa_key(), algorithm="RS256"),
            ]
        for token in tokens:
            assert error(get_all(troubled_server, token))[:2] == (401, 30)
        assert troubled_issuer.hits == before
    finally:
        troubled_issuer.down = False


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[ServerProcess]:
    """The issuer configured as a site would first configure it: CLEARWAY_OIDC_CREATE_USERS left at its default."""
    env = {"CLEARWAY_OIDC_ISSUER": issuer.url, "CLEARWAY_OIDC_AUDIENCE": "clearway"}
    with running_server(tmp_path_factory.mktemp("strict-sso"), **env) as proc:
        yield proc


def test_by_default_only_users_already_known_are_let_in(strict_server: ServerProcess, issuer: Issuer):
    """Without CLEARWAY_OIDC_CREATE_USERS a valid token of a stranger is refused and makes no user; once an
    operator creates the user, the same token is accepted."""
    who = name()
    token = issuer.token(who)
    assert error(get_all(strict_server, token))[:2] == (401, 22)
    login = httpx.get(f"{strict_server.url}/auth.login", headers={"Authorization": f"Bearer {token}"})
    assert error(login)[:2] == (401, 22)
    assert who not in strict_server.cli("users", "list").stdout
    strict_server.cli("users", "create", who)
    assert data(get_all(strict_server, token))["tasks"] == []


def test_an_issuer_without_an_audience_is_refused_at_start(tmp_path: Path, issuer: Issuer):
    """Tokens minted for any other application of the issuer would be accepted: the server does not start."""
    env = {"CLEARWAY_OIDC_ISSUER": issuer.url}  # strict_server is the same with an audience, and starts
    proc = ServerProcess(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'never.db'}", extra_env=env)
    with pytest.raises(RuntimeError, match="server exited") as exited:
        proc.start(timeout=60)
    assert "CLEARWAY_OIDC_ISSUER needs CLEARWAY_OIDC_AUDIENCE" in str(exited.value)
    assert proc.process is not None and proc.process.returncode != 0


def test_the_gateway_takes_an_issuer_token_in_the_header_and_in_snap4citys_body(
    sso_server: ServerProcess, issuer: Issuer
):
    token = issuer.token(name())
    me = httpx.Client(base_url=sso_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    app = StandinServing()
    app.start()
    try:
        with me:
            task = data(me.post("/tasks.create", json={"name": "served", "type": "inference"}))["id"]
            machine = me.post("/admin/api/gateway/machines", json={"serving_task": task, "url": app.url}).json()["id"]
            assert (
                me.post("/admin/api/gateway/endpoints", json={"machine": machine, "endpoint": "sum"}).status_code == 201
            )
            assert me.post(f"/gateway/v1/ondemand/{machine}/sum", json={"a": 2}).json() == {"y": [2]}
            body = {"access_token": token, "machine_id": machine, "endpoint": "sum", "params": {"a": 3}}
            assert httpx.post(f"{sso_server.url}/clearml/serve/ondemand", json=body).json() == {"y": [3]}
            forged = {**body, "access_token": issuer.token(name(), audience="someone-else")}
            assert httpx.post(f"{sso_server.url}/clearml/serve/ondemand", json=forged).status_code == 401
    finally:
        app.stop()


def test_the_web_ui_logs_in_with_the_authorization_code_flow_and_pkce(sso_server: ServerProcess, issuer: Issuer):
    user = name()
    issuer.signed_in, issuer.signed_in_roles = user, []
    with httpx.Client(base_url=sso_server.url, follow_redirects=True, timeout=30) as browser:
        page = browser.get("/web/login/oidc", params={"next": "/web/models"})
        assert page.status_code == 200 and page.url.path == "/web/models", page.text[:500]
        assert user in page.text
        cookie = browser.cookies.get("clearway_session")
        assert cookie
    # A callback that does not match the browser's own request (another state, no signed cookie) is refused.
    with httpx.Client(base_url=sso_server.url, timeout=30) as other:
        refused = other.get("/web/login/oidc/callback", params={"code": "stolen", "state": "x"})
        assert refused.status_code == 401 and "clearway_session" not in refused.cookies


def test_a_code_without_its_pkce_verifier_is_refused_by_the_issuer(issuer: Issuer):
    issuer.signed_in = name()
    location = issuer.authorize(
        "response_type=code&client_id=c&redirect_uri=http%3A%2F%2Fx%2Fcb&state=s"
        "&code_challenge=abc&code_challenge_method=S256"
    )
    code = dict(parse_qsl(location.split("?", 1)[1]))["code"]
    body = {"code": code, "client_id": "c", "redirect_uri": "http://x/cb", "code_verifier": "wrong"}
    assert issuer.exchange(body)[0] == 400
