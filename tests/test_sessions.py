"""Web sessions kept on the server and the limit on failed logins (issue 14, "Sessions").

A copied session cookie is worth nothing once its session is over: after logout, after the account's
token is rotated (or revoked, or the account disabled). Failed logins are counted per client address
in the database, shared by the API and the login page and by every instance on the database: the
11th failure within the window is a 429 ``too_many_attempts`` with ``Retry-After``, for a correct
token too, until the window ends; other addresses are not affected. Failures with an account's
revoked tokens count against that account (from any address), never locking out its valid token."""
from __future__ import annotations

import hashlib
import io
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from kyso.errors import ConfigurationError
from kyso.samples import make_decree30_draft
from kyso.settings import Settings
from office.compose import dev_token
from registers.models import AuditRecord

OFFICIAL, RECEIVER = "nguyen-van-an", "receiver"
ATTACKER, NEIGHBOUR = "198.51.100.7", "203.0.113.9"


class MovableClock:
    """The office's clock, moved by the test."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def make_web(settings: Settings, *, token, clock=None):
    from api import create_app
    from office import Office

    app = create_app(settings, office=Office.from_settings(settings, token=token, clock=clock))
    app.config.update(TESTING=True)
    return app


@pytest.fixture(scope="module")
def settings_for(tmp_path_factory, pki_server, softhsm_token):
    def settings(name: str) -> Settings:
        return Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path_factory.mktemp(name),
                        pkcs11_token=softhsm_token.token_label, pkcs11_pin=softhsm_token.user_pin)
    return settings


@pytest.fixture(scope="module")
def web(settings_for, pkcs11_token):
    app = make_web(settings_for("sessions"), token=pkcs11_token)
    yield app
    app.extensions["kyso"].db.dispose()


@pytest.fixture()
def clock() -> MovableClock:
    return MovableClock(datetime.now(timezone.utc).replace(microsecond=0))


@pytest.fixture()
def clocked(settings_for, pkcs11_token, clock):
    """A fresh office on the movable clock (its own database: no failure counted before)."""
    app = make_web(settings_for("throttle"), token=pkcs11_token, clock=clock)
    yield app
    app.extensions["kyso"].db.dispose()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"',
                                                                                 html)
    assert match, html[:500]
    return match.group(1)


def web_login(client, token: str, **environ):
    """POST the login form from ``environ`` (REMOTE_ADDR): the response."""
    csrf = csrf_of(client.get("/web/login", environ_base=environ).get_data(as_text=True))
    return client.post("/web/login", data={"csrf_token": csrf, "token": token}, environ_base=environ)


def login(client, token: str) -> str:
    """Log in through the login page; the CSRF token of the session."""
    response = web_login(client, token)
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_of(client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True))


def api_get(client, token: str, address: str):
    return client.get("/api/v1/documents", headers={"Authorization": f"Bearer {token}"},
                      environ_base={"REMOTE_ADDR": address})


def copy_of(app, browser):
    """Another browser holding a copy of ``browser``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("kyso_session", browser.get_cookie("kyso_session").value)
    return thief


def sign_form(csrf: str) -> dict:
    return {"csrf_token": csrf, "file": (io.BytesIO(make_decree30_draft()), "Dự thảo.pdf"), "appearance": "personal",
            "level": "B-B"}


def audit_count(app, **where) -> int:
    with app.extensions["kyso"].db.session() as s:
        query = select(AuditRecord)
        for key, value in where.items():
            query = query.where(getattr(AuditRecord, key) == value)
        return len(s.scalars(query).all())


# -- (a) logout ends the session on the server ------------------------------------------------------

def test_a_copied_cookie_signs_nothing_after_logout(web):
    browser = web.test_client()
    csrf = login(browser, dev_token(OFFICIAL))
    cookie = browser.get_cookie("kyso_session").value
    thief = copy_of(web, browser)
    # while the session is live, the copy is the session (what the attacker had)
    assert thief.get("/web/sign").status_code == 200
    signed = audit_count(web, action="sign", actor=OFFICIAL)
    response = thief.post("/web/sign", data=sign_form(csrf), content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert audit_count(web, action="sign", actor=OFFICIAL) == signed + 1

    assert browser.post("/web/logout", data={"csrf_token": csrf}).status_code == 302
    page = thief.get("/web/sign")
    assert page.status_code == 302 and page.headers["Location"].startswith("/web/login")
    thief.set_cookie("kyso_session", cookie)          # the copy as it was, again
    response = thief.post("/web/sign", data=sign_form(csrf), content_type="multipart/form-data")
    assert response.status_code == 401 and "Phiên làm việc đã hết" in response.get_data(as_text=True)
    assert audit_count(web, action="sign", actor=OFFICIAL) == signed + 1      # nothing more was signed
    thief.set_cookie("kyso_session", cookie)
    assert thief.get("/web/verify").status_code == 302


def test_only_the_hash_of_the_session_id_is_stored(web):
    from registers.models import WebSession

    browser = web.test_client()
    login(browser, dev_token(RECEIVER))
    cookie = browser.get_cookie("kyso_session").value
    sid = web.session_interface.get_signing_serializer(web).loads(cookie)["sid"]
    assert len(sid) >= 40
    with web.extensions["kyso"].db.read_session() as s:
        row = s.get(WebSession, hashlib.sha256(sid.encode()).hexdigest())
        assert row is not None and row.username == RECEIVER and row.revoked_at is None
        assert s.get(WebSession, sid) is None


def test_a_session_ends_after_its_lifetime_on_the_office_clock(clocked, clock):
    browser = clocked.test_client()
    login(browser, dev_token(RECEIVER))
    clock.advance(hours=7, minutes=59)
    assert browser.get("/web/verify").status_code == 200
    clock.advance(minutes=1)
    assert browser.get("/web/verify").status_code == 302


def test_web_sessions_in_the_registers(db):
    """On SQLite and PostgreSQL: live until revoked or over; revoking an account's tokens ends them."""
    from registers.accounts import Accounts
    from registers.sessions import WebSessions

    at, hours = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=7))), timedelta(hours=8)
    accounts, sessions = Accounts(db, clock=lambda: at), WebSessions(db)
    accounts.create("nva", display_name="Nguyễn Văn An", role="official", agency="UBND")
    first, second = (sessions.open(username="nva", at=at, lifetime=hours) for _ in range(2))
    assert first != second and sessions.live(first, at=at + hours - timedelta(seconds=1)) == "nva"
    assert sessions.live(first, at=at + hours) is None and sessions.live(first, at=at - timedelta(seconds=1)) is None
    assert sessions.live("not-a-session", at=at) is None and sessions.live(None, at=at) is None
    assert sessions.revoke(first, at=at) and not sessions.revoke(first, at=at)
    assert sessions.live(first, at=at) is None and sessions.live(second, at=at) == "nva"
    accounts.rotate_token("nva")
    assert sessions.live(second, at=at) is None


# -- (b) rotating a token ends the account's web sessions ---------------------------------------------

def test_rotating_the_token_ends_every_web_session_of_the_account(web):
    from office import Office

    office = web.extensions["kyso"]
    admin = Office.local_admin()
    _, token = office.create_user(admin, "tran-van-binh", display_name="Trần Văn Bình", role="receiver",
                                  agency="UBND")
    laptop, phone, other = web.test_client(), web.test_client(), web.test_client()
    login(laptop, token)
    login(phone, token)
    login(other, dev_token(RECEIVER))
    thief = copy_of(web, laptop)
    for browser in (laptop, phone, thief, other):
        assert browser.get("/web/verify").status_code == 200

    new_token = office.rotate_token(admin, "tran-van-binh")
    for browser in (laptop, phone, thief):
        response = browser.get("/web/verify")
        assert response.status_code == 302 and response.headers["Location"].startswith("/web/login")
    assert other.get("/web/verify").status_code == 200                   # another account: untouched
    assert web_login(web.test_client(), token).status_code == 401        # the old token is revoked
    login(laptop, new_token)
    assert laptop.get("/web/verify").status_code == 200

    office.accounts.revoke_tokens("tran-van-binh")                        # revoking alone ends them too
    assert laptop.get("/web/verify").status_code == 302


# -- (c) failed logins per address ------------------------------------------------------------------

def test_the_eleventh_failure_from_an_address_is_refused_until_the_window_ends(clocked, clock):
    client = clocked.test_client()
    for _ in range(12):                                                  # no token at all: nothing was tried
        assert client.get("/api/v1/documents", environ_base={"REMOTE_ADDR": ATTACKER}).status_code == 401
    for n in range(5):                                                   # the API and the page count together
        response = api_get(client, f"kyso_guess_{n}", ATTACKER)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"
    assert api_get(client, dev_token(RECEIVER), ATTACKER).status_code == 200   # a success erases nothing
    for n in range(5):
        assert web_login(client, f"kyso_guess_web_{n}", REMOTE_ADDR=ATTACKER).status_code == 401
    clock.advance(minutes=14)

    refused = api_get(client, "kyso_guess_11", ATTACKER)
    body = refused.get_json()["error"]
    assert refused.status_code == 429 and body["code"] == "too_many_attempts"
    assert "quá nhiều lần" in body["message_vi"] and "Too many failed logins" in body["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    page = web_login(client, "kyso_guess_web_again", REMOTE_ADDR=ATTACKER)
    html = page.get_data(as_text=True)
    assert page.status_code == 429 and "Đăng nhập sai quá nhiều lần" in html
    assert 'data-code="too_many_attempts"' in html and int(page.headers["Retry-After"]) > 0
    assert client.get("/web/verify").status_code == 302                  # and no session came of it
    assert audit_count(clocked, action="login_failed", result="too_many_attempts", client=ATTACKER) == 1
    # a right token still works from there: a 256-bit token cannot be guessed, and an office behind one
    # address is not locked out by someone else's wrong tokens
    assert api_get(client, dev_token(RECEIVER), ATTACKER).status_code == 200

    assert api_get(client, dev_token(RECEIVER), NEIGHBOUR).status_code == 200   # another address
    neighbour = clocked.test_client()
    assert web_login(neighbour, dev_token(RECEIVER), REMOTE_ADDR=NEIGHBOUR).status_code == 302

    clock.advance(minutes=1, seconds=1)                                  # the window is over
    assert api_get(client, dev_token(RECEIVER), ATTACKER).status_code == 200
    assert web_login(client, dev_token(RECEIVER), REMOTE_ADDR=ATTACKER).status_code == 302
    assert api_get(client, "kyso_guess_again", ATTACKER).status_code == 401   # counting again from one


def test_an_ipv6_client_is_counted_by_its_64(clocked):
    client = clocked.test_client()
    for n in range(10):
        assert api_get(client, "kyso_guess", f"2001:db8:1:2::{n + 1:x}").status_code == 401
    assert api_get(client, "kyso_guess", "2001:db8:1:2:ffff::1").status_code == 429
    assert api_get(client, "kyso_guess", "2001:db8:1:3::1").status_code == 401


def test_a_replayed_revoked_token_counts_against_its_account_not_its_owner(clocked):
    from office import Office

    office = clocked.extensions["kyso"]
    old = dev_token(OFFICIAL)
    new = office.rotate_token(Office.local_admin(), OFFICIAL)
    client = clocked.test_client()
    for n in range(10):                                                  # ten addresses: none over its limit
        assert api_get(client, old, f"192.0.2.{n + 1}").status_code == 401
    refused = api_get(client, old, "192.0.2.200")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_attempts"
    assert audit_count(clocked, action="login_failed", result="too_many_attempts") == 1
    assert api_get(client, new, "192.0.2.201").status_code == 200         # its owner is not locked out
    assert api_get(client, "kyso_someone_else", "192.0.2.202").status_code == 401


# -- (d) shared by every instance on the database -------------------------------------------------------

def test_the_counts_are_shared_by_two_instances_on_one_database(settings_for, pkcs11_token, clock):
    settings = settings_for("shared")
    first, second = (make_web(settings, token=pkcs11_token, clock=clock) for _ in range(2))
    try:
        assert first.extensions["kyso"] is not second.extensions["kyso"]
        one, two = first.test_client(), second.test_client()
        for n in range(10):
            assert api_get(one if n % 2 else two, f"kyso_guess_{n}", ATTACKER).status_code == 401
        for client in (one, two):
            response = api_get(client, "kyso_guess_more", ATTACKER)
            assert response.status_code == 429 and response.get_json()["error"]["code"] == "too_many_attempts"
        assert web_login(two, "kyso_guess_web", REMOTE_ADDR=ATTACKER).status_code == 429
        # a session opened on one instance is ended on the other at logout
        csrf = login(one, dev_token(RECEIVER))
        second_browser = copy_of(second, one)
        assert second_browser.get("/web/verify").status_code == 200
        assert one.post("/web/logout", data={"csrf_token": csrf}).status_code == 302
        assert second_browser.get("/web/verify").status_code == 302
    finally:
        for app in (first, second):
            app.extensions["kyso"].db.dispose()


def test_concurrent_failures_are_all_counted(db):
    """Two writers (as two processes would be) on one database: no failure is lost."""
    from registers.db import Database
    from registers.sessions import LoginFailures

    other = Database.connect(db.url)
    at, window = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc), timedelta(minutes=15)
    registers = [LoginFailures(db), LoginFailures(other)]
    errors = []

    def fail(n: int) -> None:
        try:
            for _ in range(10):
                registers[n % 2].fail(kind="address", key="192.0.2.1", at=at, window=window)
        except Exception as exc:   # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fail, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert errors == []
    assert LoginFailures(db).current(kind="address", key="192.0.2.1", at=at, window=window).count == 40
    assert LoginFailures(db).current(kind="address", key="192.0.2.1", at=at + window, window=window) is None


def test_the_limit_is_a_setting():
    assert (Settings().login_max_failures, Settings().login_window_seconds) == (10, 900)
    settings = Settings.from_env({"KYSO_LOGIN_MAX_FAILURES": "3", "KYSO_LOGIN_WINDOW_SECONDS": "600"})
    assert (settings.login_max_failures, settings.login_window_seconds) == (3, 600)
    for env in ({"KYSO_LOGIN_MAX_FAILURES": "0"}, {"KYSO_LOGIN_WINDOW_SECONDS": "5"},
                {"KYSO_LOGIN_MAX_FAILURES": "ten"}):
        with pytest.raises(ConfigurationError):
            Settings.from_env(env)
