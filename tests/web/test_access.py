"""Who may open the dashboard: the token (bearer or cookie), or loopback when there is none."""

import hashlib
import hmac
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from tests.conftest import FrozenClock
from tests.loopback import address_elsewhere
from tests.telephony.conftest import twilio_settings
from tests.web.support import TOKEN, seed_month, served
from web.access import (
    COOKIE_NAME,
    SESSION_SECONDS,
    Credentials,
    Verdict,
    bearer_of,
    cookie_valid,
    cookie_value,
    decide,
    forwarded_client,
    is_loopback,
    metrics_allowed,
)

NOW = 1_795_000_000  # a Unix second; decisions below are made at it

PATHS = ["/", "/?month=2026-11&staff=U01NURSE", "/patients/P-1042", "/reports/2026-11.csv"]


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("10.0.0.5", False), ("192.168.1.20", False), ("::ffff:10.0.0.5", False),
    ("2001:db8::1", False), ("0.0.0.0", False), ("localhost", False), ("testclient", False),
    ("", False), (None, False), ("128.0.0.1", False),
])
def test_loopback_rule(host: str | None, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(("peer", "forwarded_for", "client"), [
    ("127.0.0.1", [], "127.0.0.1"),  # no proxy: the peer
    ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),  # Caddy names a remote client
    ("127.0.0.1", ["127.0.0.1"], "127.0.0.1"),  # a client on this machine, through Caddy
    ("::1", ["203.0.113.5"], "203.0.113.5"),  # a proxy on ::1 is on loopback too
    ("127.0.0.1", ["127.0.0.1, 203.0.113.5"], "203.0.113.5"),  # the right-most entry
    ("127.0.0.1", ["203.0.113.5, 127.0.0.1"], "127.0.0.1"),
    ("127.0.0.1", ["127.0.0.1", "203.0.113.5"], "203.0.113.5"),  # two headers: the last one
    ("127.0.0.1", ["203.0.113.5,"], None),  # an empty right-most entry names nobody
    ("127.0.0.1", [" "], None),
    ("10.0.0.5", ["127.0.0.1"], "10.0.0.5"),  # not from loopback: the header is ignored
    ("testclient", ["127.0.0.1"], "testclient"),
    (None, ["127.0.0.1"], None),
])
def test_the_client_is_the_one_the_loopback_proxy_names(
    peer: str | None, forwarded_for: list[str], client: str | None,
) -> None:
    assert forwarded_client(peer, forwarded_for) == client


@pytest.mark.parametrize(("token", "creds", "expected"), [
    (None, Credentials(loopback=True), Verdict.ALLOWED),
    (None, Credentials(loopback=False), Verdict.FORBIDDEN),
    (None, Credentials(loopback=False, bearer="anything"), Verdict.FORBIDDEN),
    (TOKEN, Credentials(loopback=False), Verdict.UNAUTHORIZED),
    (TOKEN, Credentials(loopback=True), Verdict.UNAUTHORIZED),  # the token binds loopback too
    (TOKEN, Credentials(loopback=False, bearer=TOKEN), Verdict.ALLOWED),
    (TOKEN, Credentials(loopback=False, bearer=TOKEN + "x"), Verdict.UNAUTHORIZED),
    (TOKEN, Credentials(loopback=False, cookie=cookie_value(TOKEN, NOW - 60)), Verdict.ALLOWED),
    (TOKEN, Credentials(loopback=False, cookie=TOKEN), Verdict.UNAUTHORIZED),  # not the token
    (TOKEN, Credentials(loopback=False, cookie=cookie_value("other", NOW)), Verdict.UNAUTHORIZED),
    (TOKEN, Credentials(loopback=False, cookie=cookie_value(TOKEN, NOW - SESSION_SECONDS - 1)),
     Verdict.UNAUTHORIZED),  # expired
    (TOKEN, Credentials(loopback=False, query_token=TOKEN), Verdict.SET_COOKIE),
    (TOKEN, Credentials(loopback=False, query_token="wrong"), Verdict.UNAUTHORIZED),
])
def test_access_decision(token: str | None, creds: Credentials, expected: Verdict) -> None:
    assert decide(token, creds, NOW) is expected


@pytest.mark.parametrize(("token", "bearer", "loopback", "allowed"), [
    (None, None, True, True), (None, None, False, False), (None, "x", True, False),
    (TOKEN, None, True, True), (TOKEN, None, False, False), (TOKEN, TOKEN, False, True),
    (TOKEN, TOKEN + "x", False, False), (TOKEN, "wrong", True, False), ("", "", True, False),
])
def test_metrics_access(token: str | None, bearer: str | None, loopback: bool,
                        allowed: bool) -> None:
    """/metrics: loopback, or the token from anywhere; a wrong bearer never."""
    assert metrics_allowed(token, bearer, loopback) is allowed


def test_cookie_is_its_issue_second_and_an_hmac_over_it_not_the_token() -> None:
    mac = hmac.new(TOKEN.encode(), f"rpm-logger dashboard session v2:{NOW}".encode(),
                   hashlib.sha256).hexdigest()
    assert cookie_value(TOKEN, NOW) == f"{NOW}.{mac}" and TOKEN not in mac


@pytest.mark.parametrize(("cookie", "expected"), [
    (cookie_value(TOKEN, NOW), True),
    (cookie_value(TOKEN, NOW - SESSION_SECONDS), True),  # the last second of the session
    (cookie_value(TOKEN, NOW - SESSION_SECONDS - 1), False),  # expired
    (cookie_value(TOKEN, NOW + 60), True),  # a server clock a minute behind
    (cookie_value(TOKEN, NOW + 3600), False),  # issued in the future: refused
    (cookie_value("the previous token", NOW), False),  # the token was rotated
    (f"{NOW}." + cookie_value(TOKEN, NOW - 10 * SESSION_SECONDS).split(".")[1], False),
    (f"{NOW + 1}.{cookie_value(TOKEN, NOW).split('.')[1]}", False),  # redated
    (cookie_value(TOKEN, NOW).split(".")[1], False),  # the MAC alone (the old format)
    (cookie_value(TOKEN, NOW)[:-1] + "0", False), ("", False), (None, False), (".", False),
    (f"-1.{cookie_value(TOKEN, -1).split('.')[1]}", False), ("１２.abc", False),
    ("9" * 40 + ".abc", False),
])
def test_cookie_validity(cookie: str | None, expected: bool) -> None:
    assert cookie_valid(TOKEN, cookie, NOW) is expected


@pytest.mark.parametrize(("header", "expected"), [
    (f"Bearer {TOKEN}", TOKEN), (f"bearer {TOKEN}", TOKEN), ("Basic abc", None),
    ("Bearer ", None), (None, None), ("", None),
])
def test_bearer_header(header: str | None, expected: str | None) -> None:
    assert bearer_of(header) == expected


@pytest.fixture
def seeded(svc: Service) -> Service:
    seed_month(svc)
    return svc


@pytest.fixture
def locked(seeded: Service) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=seeded)) as client:
        yield client


@pytest.fixture
def open_app(seeded: Service) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(), service=seeded)) as client:
        yield client


def _shows_no_data(body: str) -> None:
    for secret in ("P-1042", "P-2001", "JD", "99457", "U01NURSE"):
        assert secret not in body


@pytest.mark.parametrize("path", PATHS)
def test_without_a_token_setting_other_clients_get_403(open_app: TestClient, path: str) -> None:
    response = open_app.get(path)  # TestClient's client host is "testclient": not loopback
    assert response.status_code == 403
    assert "served to this machine only" in response.text
    _shows_no_data(response.text)


@pytest.mark.parametrize("path", PATHS)
def test_missing_token_is_401_with_no_data(locked: TestClient, path: str) -> None:
    response = locked.get(path)
    assert response.status_code == 401
    assert 'name="token"' in response.text  # the page offers the login form
    _shows_no_data(response.text)


@pytest.mark.parametrize("path", PATHS)
def test_bearer_token_opens_every_page(locked: TestClient, path: str) -> None:
    response = locked.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and "P-1042" in response.text


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
    {"Cookie": f"{COOKIE_NAME}={cookie_value('wrong', NOW)}"},
    {"Cookie": f"{COOKIE_NAME}={TOKEN}"},
])
def test_wrong_credentials_are_401(locked: TestClient, headers: dict[str, str]) -> None:
    response = locked.get("/", headers=headers)
    assert response.status_code == 401
    _shows_no_data(response.text)


def test_wrong_query_token_is_401_and_sets_no_cookie(locked: TestClient) -> None:
    response = locked.get("/?token=wrong", follow_redirects=False)
    assert response.status_code == 401 and "set-cookie" not in response.headers
    _shows_no_data(response.text)


def test_query_token_sets_a_signed_strict_httponly_cookie_and_drops_the_token(
    locked: TestClient, clock: FrozenClock,
) -> None:
    response = locked.get(f"/patients/P-1042?month=2026-11&token={TOKEN}",
                          follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/patients/P-1042?month=2026-11"
    cookie = response.headers["set-cookie"]
    parts = [p.strip().lower() for p in cookie.split(";")]
    issued = int(clock.now.timestamp())
    assert parts[0] == f"{COOKIE_NAME}={cookie_value(TOKEN, issued)}"
    assert {"httponly", "samesite=strict", "path=/", f"max-age={SESSION_SECONDS}"} <= set(parts)
    assert TOKEN.split()[0] not in cookie
    # the client now holds the cookie: later requests need nothing else
    follow = locked.get("/patients/P-1042?month=2026-11")
    assert follow.status_code == 200 and "P-1042 (JD)" in follow.text
    assert locked.get("/reports/2026-11.csv").status_code == 200


def test_real_server_on_loopback_serves_without_a_token(seeded: Service) -> None:
    with served(create_app(Settings(), service=seeded)) as base:
        page = httpx.get(f"{base}/", timeout=10)
        csv = httpx.get(f"{base}/reports/2026-11.csv", timeout=10)
    assert page.status_code == 200 and 'data-patient="P-1042"' in page.text
    assert csv.status_code == 200 and csv.text.startswith("patient_id,")


def test_behind_the_loopback_proxy_the_forwarded_client_decides(
    seeded: Service, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over real HTTP, uvicorn run as `serve` runs it: a request from loopback naming a remote
    client in X-Forwarded-For (as Caddy does) is a remote client for the dashboard and
    /metrics; uvicorn's own rewriting stays off even with FORWARDED_ALLOW_IPS=* (it would
    have taken the left-most entry, 127.0.0.1, and let the last request in)."""
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    remote = {"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}
    local = {"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"}
    with served(create_app(Settings(), service=seeded)) as base, \
            httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/").status_code == 200
        assert client.get("/metrics").status_code == 200
        refused = client.get("/", headers=remote)
        assert refused.status_code == 403
        _shows_no_data(refused.text)
        assert client.get("/metrics", headers=remote).status_code == 401
        assert client.get("/", headers=local).status_code == 200
        assert client.get("/metrics", headers=local).status_code == 200
        spoofed = {"X-Forwarded-For": "127.0.0.1, 203.0.113.5"}
        assert client.get("/", headers=spoofed).status_code == 403
    token_app = create_app(Settings(dashboard_token=TOKEN, metrics_token=TOKEN), service=seeded)
    with served(token_app) as base, httpx.Client(base_url=base, timeout=10) as client:
        bearer = {**remote, "Authorization": f"Bearer {TOKEN}"}
        assert client.get("/", headers=remote).status_code == 401
        assert client.get("/", headers=bearer).status_code == 200
        assert client.get("/metrics", headers=remote).status_code == 401
        assert client.get("/metrics", headers=bearer).status_code == 200
        # the cookie is Secure when the proxy says the client came over HTTPS
        login = client.get("/", params={"token": TOKEN}, headers=remote, follow_redirects=False)
        plain = client.get("/", params={"token": TOKEN}, follow_redirects=False)
    assert login.status_code == 303 and "secure" in login.headers["set-cookie"].lower()
    assert plain.status_code == 303 and "secure" not in plain.headers["set-cookie"].lower()


def test_a_trailing_slash_redirect_keeps_the_proxys_https(seeded: Service) -> None:
    """Outside IT (issue 23): behind Caddy `/metrics/` redirected to `http://...`; from the
    loopback proxy saying `X-Forwarded-Proto: https` the redirect is https, from a peer
    elsewhere (TestClient's) the header changes nothing."""
    https = {"X-Forwarded-Proto": "https", "Host": "rpm.clinic.example"}
    with served(create_app(Settings(), service=seeded)) as base, \
            httpx.Client(base_url=base, timeout=10) as client:
        proxied = client.get("/metrics/", headers=https, follow_redirects=False)
        direct = client.get("/metrics/", follow_redirects=False)
    # an https request is still counted by its route (the scope is changed in place: the
    # drill's Twilio callbacks were counted as "unmatched" through a copy)
    twilio = create_app(twilio_settings(reconcile_enabled=False), service=seeded)
    with served(twilio) as twilio_base, \
            httpx.Client(base_url=twilio_base, timeout=10) as client:
        unsigned = client.post("/twilio/voice/status", headers=https, data={"CallSid": "CA1"})
        metrics = client.get("/metrics").text
    assert unsigned.status_code == 403
    assert 'method="POST",route="/twilio/voice/status",status="403"' in metrics
    assert proxied.status_code == 307
    assert proxied.headers["location"] == "https://rpm.clinic.example/metrics"
    assert direct.headers["location"] == f"{base}/metrics"
    with TestClient(create_app(Settings(), service=seeded)) as elsewhere:
        ignored = elsewhere.get("/metrics/", headers=https, follow_redirects=False)
    assert ignored.headers["location"].startswith("http://")


def test_over_real_http_a_peer_elsewhere_naming_loopback_is_still_elsewhere(
    seeded: Service, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client on the network (the machine's own network address: not loopback) that sends
    `X-Forwarded-For: 127.0.0.1` straight to a `serve` listening on every address is not on
    this machine, whatever FORWARDED_ALLOW_IPS says (uvicorn with `*` would have believed it)."""
    address = address_elsewhere()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    claims = {"X-Forwarded-For": "127.0.0.1"}
    with served(create_app(Settings(), service=seeded), host="0.0.0.0") as base:
        port = base.rsplit(":", 1)[1]
        with httpx.Client(base_url=f"http://{address}:{port}", timeout=10) as client:
            assert client.get("/", headers=claims).status_code == 403
            assert client.get("/metrics", headers=claims).status_code == 401


def test_a_forwarded_header_from_a_peer_elsewhere_is_ignored(open_app: TestClient) -> None:
    """TestClient's peer is "testclient", not loopback: naming 127.0.0.1 changes nothing."""
    response = open_app.get("/", headers={"X-Forwarded-For": "127.0.0.1"})
    assert response.status_code == 403
    assert open_app.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 401


def test_real_server_with_a_token_refuses_loopback_without_it(seeded: Service) -> None:
    with served(create_app(Settings(dashboard_token=TOKEN), service=seeded)) as base:
        refused = httpx.get(f"{base}/", timeout=10)
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as browser:
            login = browser.get("/", params={"token": TOKEN})
            again = browser.get("/")
    assert refused.status_code == 401
    assert login.status_code == 200 and login.url.params.get("token") is None
    assert again.status_code == 200 and 'data-patient="P-1042"' in again.text


def test_the_server_refuses_its_own_cookie_after_the_session_lifetime(
    locked: TestClient, clock: FrozenClock,
) -> None:
    """The browser may keep a cookie longer than Max-Age says; the server does not care."""
    assert locked.get(f"/?token={TOKEN}").status_code == 200  # follows the 303, cookie kept
    clock.advance(seconds=SESSION_SECONDS)
    assert locked.get("/").status_code == 200
    clock.advance(seconds=1)
    expired = locked.get("/")
    assert expired.status_code == 401 and 'name="token"' in expired.text
    _shows_no_data(expired.text)


def test_rotating_the_token_ends_every_session(seeded: Service, clock: FrozenClock) -> None:
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=seeded)) as old:
        old.get(f"/?token={TOKEN}")
        cookie = old.cookies[COOKIE_NAME]
    assert cookie_valid(TOKEN, cookie, int(clock.now.timestamp()))
    rotated = Settings(dashboard_token="a brand new token, rotated today")
    with TestClient(create_app(rotated, service=seeded)) as new:
        response = new.get("/", headers={"Cookie": f"{COOKIE_NAME}={cookie}"})
    assert response.status_code == 401
    _shows_no_data(response.text)
