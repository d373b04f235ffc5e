"""Subscribing on the status page: double opt-in with an expiring link, throttles, the
fan-out to confirmed subscribers (public words only) and one-click unsubscribe."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from incidents import fanout, services
from incidents.models import Incident, OutboundMessage, StatusSubscriber
from procedures.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


@pytest.fixture
def public_service(world):
    world.service.is_public = True
    world.service.save()
    return world.service


def _link(to):
    message = OutboundMessage.objects.filter(to=to, subject__startswith="Confirm").latest("pk")
    return re.search(r"http\S+/status/confirm/\S+/", message.body).group(0).split("://", 1)[1].split("/", 1)[1]


def _subscribe(client, email, *services, confirm=True):
    answer = client.post("/status/subscribe/", {"email": email, "services": list(services)})
    assert answer.status_code == 200, answer.content
    if confirm:
        path = _link(email.lower())
        assert client.get(f"/{path}").status_code == 200  # a GET only asks
        assert client.post(f"/{path}").status_code == 200
    return answer


def test_double_opt_in_then_updates_with_public_words_only(world, public_service, client):
    _subscribe(client, "Confirmed@Example.com")
    _subscribe(client, "lazy@example.com", confirm=False)
    assert list(StatusSubscriber.objects.values_list("email", flat=True)) == ["confirmed@example.com"]
    incident = world.incident(title="INTERNAL exchange node 7")
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="internal reason")
    services.incident_add_public_update(actor=world.people[5], incident=Incident.objects.get(pk=incident.pk), body="Restoring mail")
    fanout.expand_due()
    mails = list(OutboundMessage.objects.filter(to="confirmed@example.com").exclude(subject__startswith="Confirm").order_by("pk"))
    assert [m.subject for m in mails] == ["Investigating: Service disruption: Email", "Update: Service disruption: Email"]
    assert not OutboundMessage.objects.filter(to="lazy@example.com").exclude(subject__startswith="Confirm").exists()
    for mail in mails:
        text = mail.body + mail.html + str(mail.headers)
        assert "INTERNAL" not in text and "internal reason" not in text and incident.reference not in text
        assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mails[0].headers["References"] == mails[1].headers["In-Reply-To"]  # one thread
    assert "Restoring mail" in mails[1].body


def test_chosen_services_only_and_one_click_unsubscribe(world, public_service, client):
    other = Service.objects.create(slug="vpn", name="VPN", is_public=True)
    _subscribe(client, "vpn-only@example.com", "vpn")
    _subscribe(client, "everything@example.com")
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="down")
    fanout.expand_due()
    told = set(OutboundMessage.objects.filter(subject__startswith="Investigating").values_list("to", flat=True))
    assert told == {"everything@example.com"}
    message = OutboundMessage.objects.get(to="everything@example.com", subject__startswith="Investigating")
    url = message.headers["List-Unsubscribe"].strip("<>").split("://", 1)[1].split("/", 1)[1]
    assert client.post(f"/{url}", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert StatusSubscriber.objects.get(email="everything@example.com").unsubscribed_at is not None
    services.incident_add_public_update(actor=world.people[5], incident=Incident.objects.get(pk=incident.pk), body="more")
    fanout.expand_due()
    assert not OutboundMessage.objects.filter(to="everything@example.com", subject__startswith="Update").exists()
    assert other.status_subscribers.count() == 1


def test_the_confirmation_link_expires(world, public_service, client):
    _subscribe(client, "slow@example.com", confirm=False)
    path = _link("slow@example.com")
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        answer = client.post(f"/{path}")
    assert answer.status_code == 400 and b"expired" in answer.content
    assert not StatusSubscriber.objects.exists()


def test_bad_input_changes_nothing(world, public_service, client):
    Service.objects.create(slug="secret-svc", name="Secret", is_public=False)
    for body in ({"email": "not-an-address"}, {"email": "a@example.com", "services": ["secret-svc"]}):
        answer = client.post("/status/subscribe/", body)
        assert answer.status_code == 400
    assert b"Enter a valid email address." in client.post("/status/subscribe/", {"email": "x"}).content
    assert not OutboundMessage.objects.exists()


def test_throttled_per_address_and_per_client(world, public_service, client):
    for _ in range(3):
        _subscribe(client, "victim@example.com", confirm=False)
    answer = client.post("/status/subscribe/", {"email": "victim@example.com"})
    assert answer.status_code == 429 and b"recently" in answer.content
    assert OutboundMessage.objects.filter(to="victim@example.com").count() == 3
    for n in range(6):  # the same client, other addresses: 10 requests an hour in all
        client.post("/status/subscribe/", {"email": f"other{n}@example.com"})
    answer = client.post("/status/subscribe/", {"email": "fresh@example.com"})
    assert answer.status_code == 429 and b"your connection" in answer.content
    assert not OutboundMessage.objects.filter(to="fresh@example.com").exists()
