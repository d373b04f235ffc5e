"""Who hears what, how the mail looks, and that names and titles cannot inject headers."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from incidents import services
from incidents.delivery import MAX_ATTEMPTS, deliver_due
from incidents.fanout import expand_due
from incidents.models import OutboundMessage, ServiceSubscription, WebhookSubscription
from incidents.notify import unsubscribe_url

pytestmark = pytest.mark.django_db


def recipients(subject_part=""):
    expand_due()
    return sorted(m.to for m in OutboundMessage.objects.filter(subject__contains=subject_part))


@pytest.fixture
def subscribers(world):
    from django.utils import timezone

    ServiceSubscription.objects.create(service=world.service, email="fan@example.com", optional=True, created_at=timezone.now())
    ServiceSubscription.objects.create(service=world.service, email="cfo@example.com", optional=False, created_at=timezone.now())


def test_public_update_reaches_reporter_watchers_and_service_owner(world, subscribers):
    incident = world.incident()
    watcher = world.person(1, username="wendy")
    services.incident_watch(actor=watcher, incident=incident)
    services.incident_add_public_update(actor=world.people[2], incident=incident, body="On our way")
    assert recipients("Update") == ["rita@example.com", "svcowner@example.com", "wendy@example.com"]


def test_major_incident_reaches_subscribers_and_its_resolution_is_announced(world, subscribers):
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down for everyone")
    assert recipients("Major incident") == ["cfo@example.com", "fan@example.com", "rita@example.com", "svcowner@example.com"]
    services.incident_start(actor=world.people[3], incident=incident)
    services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="fixed", resolution_notes="Back")
    assert recipients("Resolved") == ["cfo@example.com", "fan@example.com", "rita@example.com", "svcowner@example.com"]


def test_optional_subscribers_get_a_working_unsubscribe_link(world, subscribers, client):
    incident = world.incident()
    # The link is signed with the time: the clock stands still so the test builds the same one.
    with time_machine.travel(timezone.now(), tick=False):
        services.incident_declare_major(actor=world.people[5], incident=incident, reason="Down")
        expand_due()
        subscription = ServiceSubscription.objects.get(email="fan@example.com")
        url = unsubscribe_url(subscription.pk)
    fan = OutboundMessage.objects.get(to="fan@example.com")
    cfo = OutboundMessage.objects.get(to="cfo@example.com")
    assert url in fan.body and url in fan.html and fan.headers["List-Unsubscribe"] == f"<{url}>"
    assert fan.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Unsubscribe" not in cfo.body and "List-Unsubscribe" not in cfo.headers
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{path}").status_code == 200
    subscription.refresh_from_db()
    assert subscription.active  # a GET only asks
    assert client.post(f"/{path}").status_code == 200
    subscription.refresh_from_db()
    assert not subscription.active
    assert client.post(f"/{path[:-3]}xyz/").status_code == 404


def test_internal_notes_and_security_incidents_never_leave_the_staff(world, subscribers):
    incident = world.incident()
    services.incident_add_note(actor=world.people[2], incident=incident, body="Secret")
    assert OutboundMessage.objects.count() == 0
    breach = world.incident(category=world.security_category)
    responder = world.person(3, team=world.security)
    services.incident_add_public_update(actor=responder, incident=breach, body="Contained")
    expand_due()
    assert OutboundMessage.objects.filter(incident=breach).count() == 0


def test_mail_looks_right_and_threads(world, settings):
    settings.SITE_URL = "https://desk.example.org"
    incident = world.incident(title="Printer on fire")
    services.incident_add_public_update(actor=world.people[2], incident=incident, body="Engineer on the way")
    services.incident_add_public_update(actor=world.people[2], incident=incident, body="Fixed soon")
    expand_due()
    assert deliver_due() == 4
    first, second = [m for m in mail.outbox if m.to == ["rita@example.com"]]
    assert first.subject == f"[{incident.reference}] Update: Printer on fire"
    assert first.extra_headers["In-Reply-To"] == first.extra_headers["References"] == f"<incident-{incident.pk}@desk.example.org>"
    assert first.extra_headers["Message-ID"] != second.extra_headers["Message-ID"]
    assert f"https://desk.example.org/incidents/{incident.reference}/" in first.body
    html, mimetype = first.alternatives[0]
    assert mimetype == "text/html" and "Engineer on the way" in html


def test_titles_and_names_cannot_inject_headers(world):
    world.reporter.email = "rita@example.com\r\nBcc: thief@example.net"
    world.reporter.save()
    incident = world.incident(title="Down\r\nBcc: thief@example.net\r\nX-Evil: 1", reporter=world.people[1])
    watcher = world.person(1, username="eve", email="eve@example.com\nCc: thief@example.net")
    services.incident_watch(actor=watcher, incident=incident)
    services.incident_add_public_update(actor=world.people[2], incident=incident, body="Update\r\nBcc: thief@example.net")
    expand_due()
    deliver_due()
    assert [m.to for m in mail.outbox] == [["l1@example.com"], ["svcowner@example.com"]]
    for message in mail.outbox:
        parsed = message.message()
        assert parsed["Bcc"] is None and parsed["Cc"] is None and parsed["X-Evil"] is None
        assert message.recipients() == message.to
        assert "\n" not in message.subject and "\r" not in message.subject


class _Hook(BaseHTTPRequestHandler):
    received = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on this host
    _Hook.received, _Hook.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_webhooks_are_signed(world, hook_server):
    from django.utils import timezone

    hook = WebhookSubscription.objects.create(
        name="chat", url=f"http://127.0.0.1:{hook_server.server_port}/hook", secret="s3cret", created_at=timezone.now()
    )
    incident = world.incident()
    services.incident_add_public_update(actor=world.people[2], incident=incident, body="On our way")
    deliver_due()
    events = [json.loads(body)["event"] for _, body in _Hook.received]
    assert events == ["registered", "public_update"]
    headers, body = _Hook.received[1]
    expected = hmac.new(hook.secret.encode(), f"{headers['X-Firebreak-Timestamp']}.{body}".encode(), hashlib.sha256).hexdigest()
    assert headers["X-Firebreak-Signature"] == f"sha256={expected}"
    assert json.loads(body)["incident"]["reference"] == incident.reference


def test_failing_webhook_backs_off_then_fails_for_good_and_level_4_sees_it(world, hook_server, api):
    import time_machine
    from django.utils import timezone

    _Hook.status = 500
    WebhookSubscription.objects.create(
        name="broken", url=f"http://127.0.0.1:{hook_server.server_port}/", secret="x", events=["registered"],
        created_at=timezone.now(),
    )  # fmt: skip
    world.incident()
    message = OutboundMessage.objects.get(channel="webhook")
    moment = timezone.now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with time_machine.travel(moment, tick=False):
            deliver_due()
        message.refresh_from_db()
        assert message.attempts == attempt
        assert message.next_attempt_at > moment  # backed off: the next try waits
        moment = message.next_attempt_at
    assert message.state == "failed" and "HTTP Error 500" in message.last_error
    assert len(_Hook.received) == MAX_ATTEMPTS
    assert api(world.people[3]).get("/api/v1/outbox/", {"state": "failed"}).status_code == 403
    listed = api(world.people[4]).get("/api/v1/outbox/", {"state": "failed"}).json()["results"]
    assert [m["id"] for m in listed] == [message.pk]
    assert api(world.people[4]).get("/api/v1/outbox/", {"state": "lost"}).status_code == 400


def test_watch_endpoint(world, api):
    incident = world.incident()
    url = f"/api/v1/incidents/{incident.reference}/watch/"
    assert api(world.reporter).post(url).status_code == 200  # a reporter may watch their own
    assert api(world.owner).post(f"/api/v1/incidents/{world.incident(service=None).reference}/watch/").status_code == 404
    assert api(world.reporter).delete(url).status_code == 200
