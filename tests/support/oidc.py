"""A tiny OpenID Connect issuer for tests: a real HTTP server with a discovery document and a JWKS, and keys
generated here with ``cryptography``, so the server verifies signatures exactly as it would against Keycloak."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


class Issuer:
    """Serves ``<url>/.well-known/openid-configuration`` and ``<url>/certs``; mints tokens with its keys.

    ``delay`` makes every answer that many seconds late and ``down`` makes it a 503, to play an issuer in trouble;
    ``hits`` counts the requests it was sent. ``clients`` (id → secret) may get tokens at ``<url>/token`` with the
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
                        "token_endpoint": f"{issuer.url}/token",
                    }
                elif self.path.endswith("/certs"):
                    body = issuer.jwks()
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
                form = parse_qs(self.rfile.read(int(self.headers.get("content-length") or 0)).decode())
                client, secret = form.get("client_id", [""])[0], form.get("client_secret", [""])[0]
                if not self.path.endswith("/token") or form.get("grant_type") != ["client_credentials"]:
                    self.send_error(400)
                    return
                if not secret or issuer.clients.get(client) != secret:
                    self.send_error(401)
                    return
                issuer.client_tokens += 1
                ttl = issuer.client_token_ttl
                token = issuer.token(f"service-account-{client}", expires_in=ttl, azp=client)
                payload = json.dumps({"access_token": token, "expires_in": ttl, "token_type": "Bearer"}).encode()
                self.send_response(200)
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
