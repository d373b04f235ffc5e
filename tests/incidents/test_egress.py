"""Webhook addresses (issue 7, item 5): http(s) only, never this host or a private network
(the host name resolved too) unless WEBHOOK_ALLOW_PRIVATE; checked when saved and again
on every delivery, on the address actually connected to."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import egress
from incidents.delivery import deliver_due
from incidents.models import OutboundMessage, WebhookSubscription
from incidents.subscriptions import webhook_save

pytestmark = pytest.mark.django_db

REFUSED = [
    "ftp://files.example.com/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "http://127.0.0.1:8000/admin/",
    "http://localhost/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_addresses(world, url):
    with pytest.raises(ValidationError) as refused:
        webhook_save(actor=world.people[5], name="x", url=url)
    assert "url" in refused.value.message_dict
    assert not WebhookSubscription.objects.exists()


def test_a_public_address_is_kept(world):
    hook = webhook_save(actor=world.people[5], name="chat", url="https://93.184.216.34/hooks/abc")
    assert hook.url == "https://93.184.216.34/hooks/abc"


def test_a_host_name_is_resolved(world, monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "chat.corp.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.8.7", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(ValidationError, match="10.9.8.7"):
        webhook_save(actor=world.people[5], name="x", url="https://chat.corp.example/hook")


def test_changing_the_address_is_checked_too(world):
    hook = webhook_save(actor=world.people[5], name="chat", url="https://93.184.216.34/hooks/abc")
    with pytest.raises(ValidationError):
        webhook_save(actor=world.people[5], webhook=hook, url="http://127.0.0.1/")
    hook.refresh_from_db()
    assert hook.url == "https://93.184.216.34/hooks/abc"
    webhook_save(actor=world.people[5], webhook=hook, active=False)  # other fields alone


def test_private_addresses_when_allowed_but_still_only_http(world, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert webhook_save(actor=world.people[5], name="lan", url="http://10.1.2.3/hook").pk
    with pytest.raises(ValidationError):
        webhook_save(actor=world.people[5], name="x", url="ftp://10.1.2.3/hook")


class _Receiver(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        type(self).received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_delivery_checks_the_address_it_connects_to(world, receiver, monkeypatch, settings):
    """Saved while the name resolved to a public address; by delivery it resolves to this
    host (DNS rebinding): nothing is sent, and the message fails for good at once."""
    port = receiver.server_port
    real = socket.getaddrinfo
    answers = {"hooks.rebind.example": "93.184.216.34"}

    def fake(host, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    webhook_save(actor=world.people[5], name="chat", url=f"http://hooks.rebind.example:{port}/hook")
    answers["hooks.rebind.example"] = "127.0.0.1"
    world.incident()
    deliver_due()
    message = OutboundMessage.objects.get(channel="webhook")
    assert _Receiver.received == []
    assert message.state == "failed" and message.attempts == 1 and "private network" in message.last_error
    # The same receiver, allowed: delivered.
    settings.WEBHOOK_ALLOW_PRIVATE = True
    OutboundMessage.objects.filter(pk=message.pk).update(state="pending", next_attempt_at=timezone.now())
    deliver_due()
    assert len(_Receiver.received) == 1


def test_delivery_never_follows_a_redirect(world, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(Exception, match="307"):
            egress.post(f"http://127.0.0.1:{server.server_port}/", body=b"{}", headers={}, timeout=5)
    finally:
        server.shutdown()


def test_the_admin_shows_a_refused_address_on_the_form(world, client):
    client.force_login(world.person(5, is_staff=True))
    answer = client.post(
        "/admin/incidents/webhooksubscription/add/",
        {"name": "metadata", "url": "http://169.254.169.254/latest/", "secret": "s", "events": "[]", "active": "on"},
    )
    page = answer.content.decode()
    assert answer.status_code == 200 and "private network" in page
    assert "http://169.254.169.254/latest/" in page  # the input is kept
    assert "was added successfully" not in page
    assert not WebhookSubscription.objects.exists()
