"""Login throttling (issue 7, item 2): failed logins are counted per account and per client
address on /login/ and the admin's login; at the limit the answer is 429 with a clear
message, before any password is checked, until the lockout ends or an administrator
unlocks (`manage.py axes_reset_username`)."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from skills.models import Person
from skills.throttle import client_address

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def nina(world):
    person = world.person(2, username="nina")
    person.set_password("right")
    person.save()
    return person


def _login(client, username, password, url="/login/", address="127.0.0.1", **headers):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def _checked_passwords(monkeypatch):
    calls = []
    real = Person.check_password
    monkeypatch.setattr(Person, "check_password", lambda self, raw: calls.append(raw) or real(self, raw))
    return calls


def test_an_account_is_locked_after_the_limit_even_with_the_right_password(nina, client, monkeypatch):
    for _ in range(LIMIT - 1):
        assert _login(client, "nina", "wrong").status_code == 200  # the form, with its error
    assert _login(client, "nina", "wrong").status_code == 429  # the failure that reaches the limit
    checked = _checked_passwords(monkeypatch)
    answer = _login(client, "nina", "right")
    assert answer.status_code == 429 and answer["Retry-After"] == "900"
    assert "Too many failed logins" in answer.content.decode() and "15 minutes" in answer.content.decode()
    assert checked == []  # refused before the (costly) password check
    assert "_auth_user_id" not in client.session
    # From another address too: the account itself is locked.
    assert _login(client, "nina", "right", address="203.0.113.9").status_code == 429


def test_an_address_is_locked_whatever_the_account(world, nina, client):
    for n in range(LIMIT):
        _login(client, f"guess{n}", "wrong", address="198.51.100.7")
    assert _login(client, "nina", "right", address="198.51.100.7").status_code == 429
    assert _login(client, "nina", "right", address="198.51.100.8").status_code == 302


def test_the_admin_login_is_throttled_and_json_clients_get_json(world, client):
    world.person(5, username="boss", is_staff=True).set_password("right")
    for _ in range(LIMIT):
        _login(client, "boss", "wrong", url="/admin/login/")
    answer = _login(client, "boss", "right", url="/admin/login/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 429 and "Too many failed logins" in answer.json()["detail"]


def test_the_lockout_ends_by_itself(nina, client):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(LIMIT):
            _login(client, "nina", "wrong")
        assert _login(client, "nina", "right").status_code == 429
        traveller.shift(timedelta(minutes=16))
        assert _login(client, "nina", "right").status_code == 302


def test_an_administrator_unlocks_an_account(nina, client):
    for _ in range(LIMIT):
        _login(client, "nina", "wrong", address="192.0.2.1")
    assert _login(client, "nina", "right", address="192.0.2.2").status_code == 429
    call_command("axes_reset_username", "nina")
    assert _login(client, "nina", "right", address="192.0.2.2").status_code == 302


def test_a_success_starts_the_count_again(nina, client):
    for _ in range(LIMIT - 1):
        _login(client, "nina", "wrong")
    assert _login(client, "nina", "right").status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        _login(client, "nina", "wrong")
    assert _login(client, "nina", "right").status_code == 302


def test_the_client_address_behind_the_tls_proxy(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.20")
    assert client_address(request) == "10.0.0.5"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client_address(request) == "198.51.100.20"  # what the proxy saw, not what the client claimed
