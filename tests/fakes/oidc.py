"""A stand-in OpenID Connect provider over real HTTP on loopback (issue 24).

It serves what a real one does for the authorization-code flow: the discovery document
(`/.well-known/openid-configuration`), the JWKS (`/jwks`, one RSA key), an authorization
endpoint that signs the configured person in at once (`/authorize`: a 302 back to the
redirect URI with a one-time code and the state), and a token endpoint (`/token`, client
secret checked) that issues an RS256-signed ID token carrying the nonce, the email and,
like "Sign in with Slack", the Slack user id in `https://slack.com/user_id`. Tests set
`person` (the claims of whoever signs in next) and may tamper with what is issued.
"""

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

SLACK_USER_CLAIM = "https://slack.com/user_id"
CLIENT_ID = "rpm-dashboard"
CLIENT_SECRET = "client-secret-7f3a"
_KEY = RSAKey.generate_key(2048, parameters={"kid": "fake-1", "use": "sig", "alg": "RS256"})
PUBLISHED_KEY = _KEY


@dataclass
class FakeOidc:
    person: dict[str, Any] = field(default_factory=dict)  # extra ID token claims
    # applied to the ID token's claims just before signing (expired, another audience, ...)
    tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    key: RSAKey = field(default_factory=lambda: _KEY)  # signs (another key: a forged token)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: int = 0

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"]}

    def _id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "sub-1",
                                  "iat": now, "exp": now + 300, **self.person}
        if nonce is not None:
            claims["nonce"] = nonce
        if self.tamper is not None:
            claims = self.tamper(claims)
        return jwt.encode({"alg": "RS256", "kid": "fake-1"}, claims, self.key)

    def _token(self, form: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        self.token_requests += 1
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                     "expires_in": 300, "id_token": self._id_token(grant["nonce"])}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None
                      ) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._send(200, fake.discovery())
                elif url.path == "/jwks":
                    self._send(200, {"keys": [_KEY.as_dict(private=False)]})
                elif url.path == "/authorize":
                    code = secrets.token_urlsafe(16)
                    fake.codes[code] = {"nonce": query.get("nonce"),
                                        "redirect_uri": query.get("redirect_uri")}
                    back = urlencode({"code": code, "state": query.get("state", "")})
                    self._send(302, None, {"Location": f"{query.get('redirect_uri')}?{back}"})
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path == "/token":
                    self._send(*fake._token(form, self.headers.get("Authorization")))
                else:
                    self._send(404, {"error": "not_found"})

        return Handler
