"""The public status page: what the public sees (and never sees), caching, the feed and
the JSON summary, and who may put an incident on it."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from skills.errors import Forbidden

pytestmark = pytest.mark.django_db

PUBLIC_URLS = ["/status/", "/status/summary.json", "/status/feed.atom"]


@pytest.fixture
def public_service(world):
    world.service.is_public = True
    world.service.save()
    return world.service


@pytest.fixture
def outage(world, public_service):
    incident = world.incident(title="Exchange cluster INTERNAL-7 fell over")
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down")
    incident = Incident.objects.get(pk=incident.pk)
    services.incident_add_public_update(actor=world.people[5], incident=incident, body="We are restoring mail")
    services.incident_add_note(actor=world.people[2], incident=incident, body="Secret: the root password is hunter2")
    return Incident.objects.get(pk=incident.pk)


def _everything_public(client, incident):
    pages = [client.get(url) for url in [*PUBLIC_URLS, f"/status/incidents/{incident.public_id}/"]]
    assert all(page.status_code == 200 for page in pages)
    return "\n".join(page.content.decode() for page in pages)


def test_a_major_incident_turns_its_service_red_with_its_public_update(world, outage, client):
    page = client.get("/status/").content.decode()
    assert re.search(r"Email</strong> <span class=\"state state-major_outage\">Major outage", page)
    assert "We are restoring mail" in page
    summary = client.get("/status/summary.json").json()
    assert summary["components"] == [{"id": "email", "name": "Email", "status": "major_outage", "uptime_90_days": summary["components"][0]["uptime_90_days"]}]
    assert [u["body"] for u in summary["incidents"][0]["incident_updates"]] == ["We are restoring mail"]
    assert summary["incidents"][0]["id"] == outage.public_id


def test_nothing_internal_is_ever_public(world, outage, client):
    everything = _everything_public(client, outage)
    for secret in ("hunter2", outage.reference, "INTERNAL-7", "l5", "l2", "Mail is down"):
        assert secret not in everything
    assert outage.public_id not in {str(outage.pk), outage.reference}


def test_security_incidents_never_appear_until_level_5_publishes(world, public_service, client):
    responder = world.person(3, team=world.security)
    breach = world.incident(category=world.security_category, title="Ransomware on the mail server", reporter=responder)
    services.incident_declare_major(actor=world.people[5], incident=breach, reason="Breach")
    services.incident_add_public_update(actor=responder, incident=Incident.objects.get(pk=breach.pk), body="Contained")
    breach.refresh_from_db()
    assert not breach.is_public
    assert "Contained" not in "".join(client.get(url).content.decode() for url in PUBLIC_URLS)
    with pytest.raises(Forbidden):
        services.incident_publish(actor=responder, incident=breach, public=True, public_title="Mail issue")
    breach.refresh_from_db()
    assert not breach.is_public
    services.incident_publish(actor=world.people[5], incident=breach, public=True, public_title="Mail service issue")
    assert "Mail service issue" in client.get("/status/").content.decode()


def test_level_3_or_the_comms_lead_publish_and_level_2_may_not(world, public_service, api):
    incident = world.incident()
    url = f"/api/v1/incidents/{incident.reference}/publish/"
    refused = api(world.people[2]).post(url, {"public": True, "public_title": "Slow mail"}, format="json")
    assert refused.status_code == 403 and "publish status" in refused.json()["detail"]
    incident.refresh_from_db()
    assert not incident.is_public and incident.public_id is None
    assert api(world.people[3]).post(url, {"public": "maybe"}, format="json").status_code == 400
    done = api(world.people[3]).post(url, {"public": True, "public_title": "Slow mail"}, format="json")
    assert done.status_code == 200 and done.json()["is_public"] and done.json()["public_title"] == "Slow mail"
    Incident.objects.filter(pk=incident.pk).update(comms_lead=world.people[2])
    assert api(world.people[2]).post(url, {"public": False}, format="json").status_code == 200


def test_a_service_that_is_not_public_cannot_carry_a_public_incident(world, api):
    incident = world.incident()
    answer = api(world.people[3]).post(f"/api/v1/incidents/{incident.reference}/publish/", {"public": True}, format="json")
    assert answer.status_code == 400 and "public" in answer.json()


def test_cacheable_with_an_etag_and_no_session(world, outage, client):
    for url in PUBLIC_URLS:
        first = client.get(url)
        assert first["Cache-Control"] == "public, max-age=30"
        assert "Cookie" not in first.get("Vary", "") and not first.cookies
        assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert client.get("/status/incidents/nope/").status_code == 404


def test_resolution_ends_it_and_uptime_counts_the_outage(world, outage, client):
    now = timezone.now()
    with time_machine.travel(now + timedelta(hours=24), tick=False):
        services.incident_start(actor=world.people[3], incident=outage)
        services.incident_resolve(actor=world.people[3], incident=outage, resolution_code="fixed", resolution_notes="internal")
        summary = client.get("/status/summary.json").json()
        assert summary["components"][0]["status"] == "operational" and summary["incidents"] == []
        assert 98.8 < summary["components"][0]["uptime_90_days"] < 99.0  # one day of 90
        page = client.get("/status/").content.decode()
        assert "Recently resolved" in page and "internal" not in page
        assert page.count("day-major_outage") >= 1
        feed = client.get("/status/feed.atom").content.decode()
        assert "Resolved: Service disruption: Email" in feed and "We are restoring mail" in feed


def test_the_status_page_query_count_does_not_grow(world, public_service, client, django_assert_max_num_queries):
    for n in range(5):
        incident = world.incident(title=f"Down {n}")
        services.incident_publish(actor=world.people[3], incident=incident, public=True)
        services.incident_add_public_update(actor=world.people[3], incident=incident, body=f"Update {n}")
    with django_assert_max_num_queries(8):
        assert client.get("/status/").status_code == 200
    json.loads(client.get("/status/summary.json").content)


def test_an_unchanged_page_comes_from_the_cache_and_a_change_shows_at_once(
    world, outage, client, django_assert_max_num_queries
):
    start = (timezone.now() + timedelta(minutes=1)).replace(second=0, microsecond=0)

    def at(seconds):
        return time_machine.travel(start + timedelta(seconds=seconds), tick=False)

    with at(3):
        for url in PUBLIC_URLS:
            client.get(url)
            with django_assert_max_num_queries(1):  # the version stamp; the page is cached
                assert client.get(url).status_code == 200
        services.incident_add_public_update(actor=world.people[5], incident=outage, body="Half the mailboxes are back")
    with at(6):
        assert all("Half the mailboxes are back" in client.get(url).content.decode() for url in PUBLIC_URLS)
        world.service.name = "Mail and calendars"
        world.service.save()
        assert "Mail and calendars" in client.get("/status/").content.decode()
        services.incident_publish(actor=world.people[5], incident=Incident.objects.get(pk=outage.pk), public=False)
    with at(9):
        assert all("Half the mailboxes are back" not in client.get(url).content.decode() for url in PUBLIC_URLS)


def test_a_page_is_not_kept_while_an_earlier_change_may_still_commit(world, outage, client):
    """A change stamped before the newest one but committed after it must still show."""
    start = (timezone.now() + timedelta(minutes=1)).replace(second=0, microsecond=0)
    other = world.incident(title="Slow printing")
    with time_machine.travel(start + timedelta(seconds=10), tick=False):
        services.incident_publish(actor=world.people[3], incident=other, public=True)
    with time_machine.travel(start + timedelta(seconds=11), tick=False):
        assert "Half the mailboxes" not in client.get("/status/").content.decode()
        # Its transaction started before the other change (so it is stamped earlier) and
        # commits only now.
        services.incident_add_public_update(actor=world.people[5], incident=outage, body="Half the mailboxes are back")
        Incident.objects.filter(pk=outage.pk).update(updated_at=start + timedelta(seconds=9))
    with time_machine.travel(start + timedelta(seconds=14), tick=False):
        assert "Half the mailboxes are back" in client.get("/status/").content.decode()


def test_the_stamp_moves_with_the_minute_so_ongoing_spans_grow(world, outage, client):
    now = timezone.now().replace(second=5)
    with time_machine.travel(now, tick=False):
        first = client.get("/status/summary.json").json()["components"][0]["uptime_90_days"]
    with time_machine.travel(now + timedelta(hours=12), tick=False):
        later = client.get("/status/summary.json").json()["components"][0]["uptime_90_days"]
    assert later < first


def test_uptime_days_take_the_worst_state_of_each_day(world, public_service, client):
    now = timezone.now().replace(hour=12)
    with time_machine.travel(now - timedelta(days=3), tick=False):
        slow = world.incident(title="Slow", impact=3, urgency=3)
        services.incident_publish(actor=world.people[3], incident=slow, public=True)
        down = world.incident(title="Down", impact=1, urgency=1)
        services.incident_publish(actor=world.people[3], incident=down, public=True)
    Incident.objects.filter(pk=slow.pk).update(public_ended_at=now - timedelta(days=1))
    Incident.objects.filter(pk=down.pk).update(public_ended_at=now - timedelta(days=3) + timedelta(hours=6))
    with time_machine.travel(now, tick=False):
        page = client.get("/status/").content.decode()
        summary = client.get("/status/summary.json").json()
    cells = re.findall(r'class="day day-(\w+)"', page)
    assert len(cells) == 90
    assert cells[-5:] == ["operational", "partial_outage", "degraded_performance", "degraded_performance", "operational"]
    assert summary["components"][0]["uptime_90_days"] == round(100 * (1 - 6 / (90 * 24)), 2)
