"""Scheduled maintenance: level 4 announces, edits and cancels a window; the status page,
summary and feed show it; subscribers of its services hear of it when announced, when it
starts and when it ends (the sweep, once each); level 3 and bad input change nothing."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import fanout, maintenance, services
from incidents.models import (
    FanOut,
    Incident,
    MaintenanceEvent,
    MaintenanceWindow,
    OutboundMessage,
    StatusSubscriber,
)
from skills.errors import Forbidden
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/maintenance/"


@pytest.fixture
def public_service(world):
    world.service.is_public = True
    world.service.save()
    return world.service


@pytest.fixture
def vpn():
    return ServiceFactory(slug="vpn", name="VPN", is_public=True)


@pytest.fixture
def subscribers(world, public_service, vpn):
    """Confirmed: everything, email only, vpn only; one gone; one confirmed only later."""
    now = timezone.now() - timedelta(days=1)
    made = {}
    for name, everything, chosen, gone in [
        ("all", True, [], False), ("email", False, [public_service], False), ("vpn", False, [vpn], False),
        ("gone", True, [], True),
    ]:  # fmt: skip
        subscriber = StatusSubscriber.objects.create(
            email=f"{name}@example.com", all_services=everything, created_at=now, confirmed_at=now,
            unsubscribed_at=now if gone else None,
        )  # fmt: skip
        subscriber.services.set(chosen)
        made[name] = subscriber
    return made


def _mails(subject_start):
    fanout.expand_due()
    return sorted(OutboundMessage.objects.filter(subject__startswith=subject_start).values_list("to", flat=True))


def _body(start, end, services=("email",), **extra):
    return {"title": "Mail server upgrade", "description": "Mail may be slow.", "services": list(services),
            "starts_at": start.isoformat(), "ends_at": end.isoformat(), **extra}  # fmt: skip


def _announce(world, start, end, services=None):
    return maintenance.maintenance_announce(
        actor=world.people[4], title="Mail server upgrade", description="Mail may be slow.",
        services=services or [world.service], starts_at=start, ends_at=end,
    )  # fmt: skip


def _nothing_changed():
    assert not MaintenanceWindow.objects.exists()
    assert not MaintenanceEvent.objects.exists()
    assert not FanOut.objects.exists()


def test_level_4_announces_and_the_subscribers_of_its_services_hear_once(world, subscribers, api, client):
    start = timezone.now() + timedelta(days=2)
    answer = api(world.people[4]).post(URL, _body(start, start + timedelta(hours=2)), format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["status"] == "scheduled" and answer.json()["services"] == ["email"]
    assert _mails("Scheduled maintenance: Mail server upgrade") == ["all@example.com", "email@example.com"]
    mail = OutboundMessage.objects.get(to="email@example.com")
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Mail may be slow." in mail.body and "/status/unsubscribe/" in mail.body
    assert fanout.expand_due() == 0 and OutboundMessage.objects.count() == 2  # once
    window = MaintenanceWindow.objects.get()
    assert [e.kind for e in window.events.all()] == ["announced"] and window.events.get().actor == world.people[4]
    page = client.get("/status/").content.decode()
    assert "Scheduled maintenance" in page and "Mail server upgrade" in page and "Mail may be slow." in page
    assert re.search(r"Email</strong> <span class=\"state state-operational\">", page)  # not yet
    summary = client.get("/status/summary.json").json()
    (shown,) = summary["scheduled_maintenances"]
    assert shown["id"] == window.public_id and shown["status"] == "scheduled" and shown["components"] == ["email"]
    assert shown["scheduled_for"] == start.isoformat()
    assert "Scheduled maintenance: Mail server upgrade" in client.get("/status/feed.atom").content.decode()


def test_level_3_is_refused_every_write_and_nothing_changes(world, public_service, api):
    start = timezone.now() + timedelta(days=1)
    refused = api(world.people[3]).post(URL, _body(start, start + timedelta(hours=1)), format="json")
    assert refused.status_code == 403 and "manage maintenance" in refused.json()["detail"]
    _nothing_changed()
    with pytest.raises(Forbidden):
        maintenance.maintenance_announce(
            actor=world.people[3], title="Upgrade", services=[world.service], starts_at=start,
            ends_at=start + timedelta(hours=1),
        )  # fmt: skip
    _nothing_changed()
    window = _announce(world, start, start + timedelta(hours=1))
    before = (FanOut.objects.count(), MaintenanceEvent.objects.count())
    assert api(world.people[3]).patch(f"{URL}{window.pk}/", {"title": "Changed"}, format="json").status_code == 403
    assert api(world.people[3]).post(f"{URL}{window.pk}/cancel/").status_code == 403
    with pytest.raises(Forbidden):
        maintenance.maintenance_edit(actor=world.people[3], window=window, title="Changed")
    with pytest.raises(Forbidden):
        maintenance.maintenance_cancel(actor=world.people[3], window=window)
    window.refresh_from_db()
    assert window.title == "Mail server upgrade" and window.cancelled_at is None
    assert (FanOut.objects.count(), MaintenanceEvent.objects.count()) == before
    assert api(world.people[3]).get(URL).status_code == 200  # staff read


@pytest.mark.parametrize(
    ("shift", "services", "field", "words"),
    [
        ((2, 1), ["email"], "ends_at", "after the start"),
        ((-3, -1), ["email"], "ends_at", "in the past"),
        ((1, 2), ["nosuch"], "services", "nosuch"),
        ((1, 2), ["private"], "services", "private"),
        ((1, 2), [], "services", "at least one"),
        ((1, 24 * 40), ["email"], "ends_at", "30 days"),
    ],
)
def test_bad_input_is_refused_by_field_and_changes_nothing(world, public_service, api, shift, services, field, words):
    ServiceFactory(slug="private", name="Private", is_public=False)
    now = timezone.now()
    body = _body(now + timedelta(hours=shift[0]), now + timedelta(hours=shift[1]), services)
    answer = api(world.people[4]).post(URL, body, format="json")
    assert answer.status_code == 400 and words in " ".join(answer.json()[field]), answer.json()
    _nothing_changed()
    assert api(world.people[4]).post(URL, {**body, "starts_at": "tomorrow"}, format="json").status_code == 400
    _nothing_changed()


def test_the_sweep_tells_of_the_start_and_the_end_once_each_and_the_page_follows(world, subscribers, vpn, client):
    start = (timezone.now() + timedelta(hours=1)).replace(second=0, microsecond=0)
    window = _announce(world, start, start + timedelta(hours=2), services=[world.service, vpn])
    assert _mails("Scheduled maintenance") == ["all@example.com", "email@example.com", "vpn@example.com"]
    assert maintenance.sweep() == 0
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert maintenance.sweep() == 1 and maintenance.sweep() == 0
        assert _mails("Maintenance in progress") == ["all@example.com", "email@example.com", "vpn@example.com"]
        summary = client.get("/status/summary.json").json()
        assert {c["id"]: c["status"] for c in summary["components"]} == {"email": "under_maintenance", "vpn": "under_maintenance"}
        assert summary["scheduled_maintenances"][0]["status"] == "in_progress"
        assert re.search(r"VPN</strong> <span class=\"state state-under_maintenance\">Maintenance", client.get("/status/").content.decode())
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        # An incident makes it worse than maintenance.
        incident = world.incident(title="Mail down during the upgrade")
        services.incident_declare_major(actor=world.people[5], incident=incident, reason="Down")
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        states = {c["id"]: c["status"] for c in client.get("/status/summary.json").json()["components"]}
        assert states == {"email": "major_outage", "vpn": "under_maintenance"}
        # Editable until it ends: not its start any more.
        with pytest.raises(Exception, match="cannot move"):
            maintenance.maintenance_edit(actor=world.people[4], window=window, starts_at=start + timedelta(minutes=10))
    with time_machine.travel(start + timedelta(hours=2, seconds=1), tick=False):
        assert maintenance.sweep() == 1 and maintenance.sweep() == 0
        assert _mails("Maintenance completed") == ["all@example.com", "email@example.com", "vpn@example.com"]
        summary = client.get("/status/summary.json").json()
        assert summary["scheduled_maintenances"] == []
        assert {c["id"]: c["status"] for c in summary["components"]}["vpn"] == "operational"
        answer = maintenance.MaintenanceWindow.objects.get(pk=window.pk)
        assert answer.started_at == start + timedelta(seconds=30) and answer.ended_at is not None
        with pytest.raises(Exception, match="ended or was cancelled"):
            maintenance.maintenance_cancel(actor=world.people[4], window=window)
    kinds = list(MaintenanceEvent.objects.filter(window=window).order_by("at", "pk").values_list("kind", flat=True))
    assert kinds == ["announced", "started", "ended"]
    assert not Incident.objects.filter(is_public=False, is_major=True).exists()


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_claim_different_windows(world, public_service):
    """SKIP LOCKED: a window held by one sweep is not taken by the other."""
    from django.db import connection, transaction

    start = timezone.now() + timedelta(minutes=5)
    first, second = _announce(world, start, start + timedelta(hours=1)), _announce(world, start, start + timedelta(hours=1))
    with time_machine.travel(start + timedelta(seconds=1), tick=False), transaction.atomic():
        held = MaintenanceWindow.objects.select_for_update().get(pk=first.pk)
        # Another connection sweeps meanwhile: only the unheld window is announced.
        from threading import Thread

        results = []

        def other():
            try:
                results.append(maintenance.sweep())
            finally:
                connection.close()

        thread = Thread(target=other)
        thread.start()
        thread.join(30)
        assert held.started_at is None
    assert results == [1]
    assert MaintenanceWindow.objects.get(pk=second.pk).started_at is not None


def test_edit_and_cancel_before_it_ends_are_told_and_audited(world, subscribers, api, client):
    start = timezone.now() + timedelta(days=1)
    window = _announce(world, start, start + timedelta(hours=1))
    later = start + timedelta(days=1)
    answer = api(world.people[4]).patch(f"{URL}{window.pk}/", {"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=3)).isoformat()}, format="json")
    assert answer.status_code == 200 and answer.json()["starts_at"].startswith(later.strftime("%Y-%m-%dT%H:%M"))
    assert _mails("Maintenance updated") == ["all@example.com", "email@example.com"]
    bad = api(world.people[4]).patch(f"{URL}{window.pk}/", {"ends_at": (later - timedelta(hours=1)).isoformat()}, format="json")
    assert bad.status_code == 400 and "ends_at" in bad.json()
    window.refresh_from_db()
    assert window.ends_at == later + timedelta(hours=3)
    assert api(world.people[4]).post(f"{URL}{window.pk}/cancel/").json()["status"] == "cancelled"
    assert _mails("Maintenance cancelled") == ["all@example.com", "email@example.com"]
    assert api(world.people[4]).post(f"{URL}{window.pk}/cancel/").status_code == 409
    assert client.get("/status/summary.json").json()["scheduled_maintenances"] == []
    with time_machine.travel(later + timedelta(minutes=1), tick=False):
        assert maintenance.sweep() == 0  # a cancelled window never starts
    kinds = list(window.events.order_by("at", "pk").values_list("kind", flat=True))
    assert kinds == ["announced", "edited", "cancelled"]


def test_the_admin_page_announces_for_level_4_and_refuses_level_3(world, public_service, client):
    start = timezone.now() + timedelta(days=1)
    form = {
        "title": "Database failover test", "description": "Brief interruptions.", "services": [public_service.pk],
        "starts_at_0": start.strftime("%Y-%m-%d"), "starts_at_1": start.strftime("%H:%M:%S"),
        "ends_at_0": start.strftime("%Y-%m-%d"), "ends_at_1": (start - timedelta(hours=1)).strftime("%H:%M:%S"),
        "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0",
    }  # fmt: skip
    client.force_login(world.person(3, is_staff=True))
    assert client.get("/admin/incidents/maintenancewindow/add/").status_code == 403
    level_4 = world.person(4, is_staff=True)
    client.force_login(level_4)
    refused = client.post("/admin/incidents/maintenancewindow/add/", form)
    assert refused.status_code == 200 and "The end must be after the start." in refused.content.decode()
    _nothing_changed()
    ends = start + timedelta(hours=1)
    done = client.post("/admin/incidents/maintenancewindow/add/", {**form, "ends_at_0": ends.strftime("%Y-%m-%d"), "ends_at_1": ends.strftime("%H:%M:%S")})
    assert done.status_code == 302, done.content.decode()[:2000]
    window = MaintenanceWindow.objects.get()
    assert window.title == "Database failover test" and list(window.services.all()) == [public_service]
    assert window.created_by == level_4 and FanOut.objects.filter(maintenance=window).count() == 1
