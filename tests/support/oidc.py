"""A tiny OpenID Connect issuer for tests: a real HTTP server with a discovery document and a JWKS, and keys
generated here with ``cryptography``, so the server verifies signatures exactly as it would against Keycloak."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


class Issuer:
    """Serves ``<url>/.well-known/openid-configuration`` and ``<url>/certs``; mints tokens with its keys.

    ``delay`` makes every answer that many seconds late and ``down`` makes it a 503, to play an issuer in trouble;
    ``hits`` counts the requests it was sent. ``clients`` (id → secret) may get tokens at the token endpoint with the
    client-credentials grant, as Keycloak's service accounts do, each valid ``client_token_ttl`` seconds;
    ``client_tokens`` counts the tokens given."""

    def __init__(self, realm: str = "test") -> None:
        self.delay = 0.0
        self.down = False
        self.hits = 0
        self.clients: dict[str, str] = {}
        self.client_token_ttl = 300
        self.client_tokens = 0
        self.keys: dict[str, Any] = {
            "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ES256": ec.generate_private_key(ec.SECP256R1()),
        }
        self.kids = {alg: uuid.uuid4().hex for alg in self.keys}
        self.signed_in: str | None = None  # the user logged in at the authorization endpoint
        self.signed_in_roles: list[str] = []
        self._codes: dict[str, dict[str, str]] = {}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                issuer.hits += 1
                time.sleep(issuer.delay)  # an issuer that answers late (a test double: no deadline to poll)
                if issuer.down:
                    self.send_error(503)
                    return
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = {
                        "issuer": issuer.url,
                        "jwks_uri": f"{issuer.url}/certs",
                        "authorization_endpoint": f"{issuer.url}/protocol/openid-connect/auth",
                        "token_endpoint": f"{issuer.url}/protocol/openid-connect/token",
                    }
                elif self.path.endswith("/certs"):
                    body = issuer.jwks()
                elif "/protocol/openid-connect/auth?" in self.path:
                    self.send_response(302)
                    self.send_header("Location", issuer.authorize(self.path.split("?", 1)[1]))
                    self.end_headers()
                    return
                else:
                    self.send_error(404)
                    return
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                issuer.hits += 1
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                status, body = issuer.exchange(form) if self.path.endswith("/token") else (404, {})
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/realms/{realm}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Issuer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def authorize(self, query: str) -> str:
        """The authorization endpoint, with the user already logged in there (``signed_in``, ``signed_in_roles``):
        where it sends the browser back, with a one-time code bound to the PKCE challenge and redirect address."""
        params = dict(parse_qsl(query))
        code = uuid.uuid4().hex
        if params.get("code_challenge_method") == "S256" and self.signed_in:
            self._codes[code] = {**params, "username": self.signed_in}
        return f"{params['redirect_uri']}?{urlencode({'code': code, 'state': params.get('state', '')})}"

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint: a code once, for the verifier of its challenge and the same redirect address; or a
        registered client's own token (the client-credentials grant)."""
        if form.get("grant_type") == "client_credentials":
            client, secret = form.get("client_id", ""), form.get("client_secret", "")
            if not secret or self.clients.get(client) != secret:
                return 401, {"error": "invalid_client"}
            self.client_tokens += 1
            ttl = self.client_token_ttl
            token = self.token(f"service-account-{client}", expires_in=ttl, azp=client)
            return 200, {"access_token": token, "expires_in": ttl, "token_type": "Bearer"}
        grant = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if (
            grant is None
            or grant["code_challenge"] != challenge
            or grant["redirect_uri"] != form.get("redirect_uri")
            or grant["client_id"] != form.get("client_id")
        ):
            return 400, {"error": "invalid_grant"}
        token = self.token(grant["username"], roles=self.signed_in_roles)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 300}

    def jwks(self) -> dict[str, Any]:
        keys = []
        for alg, key in self.keys.items():
            encoder = RSAAlgorithm if alg == "RS256" else ECAlgorithm
            jwk = encoder.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": self.kids[alg], "use": "sig", "alg": alg})
        return {"keys": keys}

    def token(
        self,
        username: str,
        *,
        roles: list[str] | None = None,
        audience: str = "clearway",
        alg: str = "RS256",
        expires_in: int = 300,
        signing_key: Any = None,
        **claims: Any,
    ) -> str:
        """An access token shaped like Keycloak's; ``signing_key`` signs it with another key (same kid)."""
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": audience,
            "sub": uuid.uuid4().hex,
            "iat": now,
            "exp": now + expires_in,
            "preferred_username": username,
            "realm_access": {"roles": roles or []},
            **claims,
        }
        key = signing_key or self.keys[alg]
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": self.kids[alg]})


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up on a late answer is expected here, not an error to print."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass
