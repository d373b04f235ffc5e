"""Issue 12's journey in a real browser: a major incident on `email` turns the service red
on the status page, its public update appears, a confirmed subscriber gets it by email
(threaded) at a real SMTP server, an unconfirmed one does not; internal notes and
security incidents never appear anywhere public. The pages work on a 390 px phone and
have no serious accessibility problem."""

import re

import pytest
from django.core.cache import cache

from incidents import fanout, services
from incidents.delivery import deliver_due
from incidents.models import Incident, OutboundMessage
from tests.processes.harness import Sink

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp(settings):
    with Sink() as sink:
        settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                        "OPTIONS": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}}}  # fmt: skip
        yield sink


def _subscribe(page, email):
    page.goto("/status/subscribe/")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Subscribe").click()
    assert page.get_by_text("We sent a confirmation link").is_visible()


def test_the_public_journey(world, page, smtp, axe_violations, settings):
    cache.clear()
    world.service.is_public = True
    world.service.save()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/status/")
    assert page.get_by_text("All services are operating normally.").is_visible()

    _subscribe(page, "confirmed@example.com")
    _subscribe(page, "lazy@example.com")
    deliver_due()
    confirm = OutboundMessage.objects.get(to="confirmed@example.com")
    page.goto(re.search(r"/status/confirm/\S+/", confirm.body).group(0))
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_role("heading", name="Subscribed").is_visible()

    incident = world.incident(title="Exchange node EX-7 disk full")
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down")
    incident = Incident.objects.get(pk=incident.pk)
    services.incident_add_note(actor=world.people[2], incident=incident, body="Internal: blame the backup job")
    services.incident_add_public_update(actor=world.people[5], incident=incident, body="We are restoring mail")
    responder = world.person(3, team=world.security)
    breach = world.incident(category=world.security_category, title="Phishing wave", reporter=responder)
    services.incident_add_public_update(actor=responder, incident=breach, body="Breach contained")
    fanout.expand_due()
    deliver_due()

    page.goto("/status/")  # may come from the browser's cache (max-age=30); a reload revalidates
    page.reload()
    assert page.locator(".status-service", has_text="Email").locator(".state-major_outage").is_visible()
    assert page.get_by_text("We are restoring mail").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(page) == []
    page.get_by_role("link", name="Service disruption: Email").first.click()
    assert page.get_by_role("heading", name="Service disruption: Email").is_visible()
    assert axe_violations(page) == []

    public = "".join(page.goto(url).text() for url in ["/status/", "/status/summary.json", "/status/feed.atom",
                                                        f"/status/incidents/{incident.public_id}/"])  # fmt: skip
    for secret in ("blame the backup job", "EX-7", incident.reference, "Phishing", "Breach contained", "Mail is down"):
        assert secret not in public

    received = smtp.counts()
    to_confirmed = [message_id for (message_id, rcpt) in received if rcpt == "confirmed@example.com"]
    assert len(to_confirmed) == 3  # the confirmation link, the declaration and the update
    assert sum(1 for (_, rcpt) in received if rcpt == "lazy@example.com") == 1  # only its confirmation link
    mails = OutboundMessage.objects.filter(to="confirmed@example.com", fanout__isnull=False).order_by("pk")
    assert [m.state for m in mails] == ["sent", "sent"]
    assert mails[0].headers["References"] == mails[1].headers["References"]  # threaded
