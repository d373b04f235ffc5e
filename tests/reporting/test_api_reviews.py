"""Reviews through the API: opened on demand or by the sweep, written up and closed at
level 5, actions with owners; security reviews only for the security team and level 5."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import OutboundMessage, ServiceSubscription, TimelineEvent
from reporting.models import Review, ReviewAction
from reporting.services import reviews_open_for_resolved_majors

URL = "/api/v1/reviews/"


def _major(world):
    incident = world.incident()
    incident_services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail down")
    incident_services.incident_start(actor=world.people[3], incident=incident)
    incident_services.incident_escalate(actor=world.people[3], incident=incident, reason="Senior needed")
    incident_services.incident_add_public_update(actor=world.people[3], incident=incident, body="Working on it")
    incident_services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="fixed", resolution_notes="Back")
    reviews_open_for_resolved_majors(now=timezone.now())
    return Review.objects.get(incident=incident)


def test_the_review_of_a_major_incident_is_prefilled_from_its_timeline(world, api, django_assert_max_num_queries):
    review = _major(world)
    with django_assert_max_num_queries(12):
        body = api(world.people[5]).get(f"{URL}{review.pk}/").json()
    assert body["incident"] == review.incident.reference
    assert body["state"] == "open" and body["lead"] == "l5"
    facts = body["facts"]
    assert facts["detected_at"] and facts["acknowledged_at"] and facts["declared_major_at"] and facts["resolved_at"]
    assert [e["data"]["mode"] for e in facts["escalations"]] == ["hierarchical"]
    assert [e["data"]["body"] for e in facts["updates"]] == ["Working on it"]
    assert facts["durations"]["to_resolve"] is not None


def test_the_lead_writes_it_up_adds_actions_and_closes_it_telling_the_owner_and_stakeholders(world, api):
    ServiceSubscription.objects.create(service=world.service, email="cio@example.com", optional=False, created_at=timezone.now())
    review = _major(world)  # the subscriber is told of its declaration, updates and resolution
    # Subscribed after the incident's last announcement: never told of it, so not of its review.
    ServiceSubscription.objects.create(service=world.service, email="late@example.com", created_at=timezone.now())
    lead = api(world.people[5])
    response = lead.patch(f"{URL}{review.pk}/", {"impact": "No mail for 2 h", "causes": ["Disk full", " "],
                                                  "went_well": "Fast escalation", "went_badly": "No alert"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["causes"] == ["Disk full"]
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    response = lead.post(f"{URL}{review.pk}/actions/", {"title": "Alert on disk space", "owner": "l3", "due_on": due}, format="json")
    assert response.status_code == 201, response.json()
    before = OutboundMessage.objects.count()
    response = lead.post(f"{URL}{review.pk}/close/", {"outcome": "Disk alerts added"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "closed"
    sent = OutboundMessage.objects.order_by("pk")[before:]
    assert {m.to for m in sent} == {"svcowner@example.com", "cio@example.com", "rita@example.com"}
    assert all("Disk alerts added" in m.body and "Alert on disk space" in m.body for m in sent)
    assert TimelineEvent.objects.filter(incident=review.incident, kind="review_closed").exists()
    # Closed is closed.
    again = lead.patch(f"{URL}{review.pk}/", {"impact": "x"}, format="json")
    assert again.status_code == 409


def test_below_level_5_reading_is_allowed_but_writing_is_refused_and_changes_nothing(world, api):
    review = _major(world)
    client = api(world.people[4])
    assert client.get(f"{URL}{review.pk}/").status_code == 200
    response = client.patch(f"{URL}{review.pk}/", {"impact": "mine"}, format="json")
    assert response.status_code == 403
    assert "lead review" in response.json()["detail"]
    assert client.post(f"{URL}{review.pk}/close/", {"outcome": "x"}, format="json").status_code == 403
    review.refresh_from_db()
    assert review.impact == "" and review.completed_at is None


def test_a_review_on_demand_for_any_incident_at_level_5_only(world, api):
    incident = world.incident()
    assert api(world.people[4]).post(URL, {"incident": incident.reference}, format="json").status_code == 403
    assert not Review.objects.exists()
    response = api(world.people[5]).post(URL, {"incident": incident.reference}, format="json")
    assert response.status_code == 201
    assert api(world.people[5]).post(URL, {"incident": incident.reference}, format="json").status_code == 409
    assert api(world.people[5]).post(URL, {"incident": "INC-999999"}, format="json").status_code == 404
    assert api(world.people[5]).post(URL, {"incident": "nope"}, format="json").json().keys() == {"incident"}


def test_security_reviews_only_for_the_security_team_and_level_5(world, api):
    secret = world.incident(category=world.security_category)
    review = api(world.people[5]).post(URL, {"incident": secret.reference}, format="json").json()
    responder = world.person(3, world.security)
    assert api(responder).get(f"{URL}{review['id']}/").status_code == 200
    assert [r["id"] for r in api(responder).get(URL).json()["results"]] == [review["id"]]
    assert api(world.people[4]).get(f"{URL}{review['id']}/").status_code == 404
    assert api(world.people[4]).get(URL).json()["results"] == []
    assert api(world.reporter).get(URL).json()["results"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "owner": "nobody", "due_on": "2099-01-01"}, "owner"),
        ({"title": "x", "owner": "rita", "due_on": "2099-01-01"}, "owner"),
        ({"title": "x", "owner": "l3", "due_on": "2000-01-01"}, "due_on"),
        ({"title": "x", "owner": "l3", "due_on": "tomorrow"}, "due_on"),
        ({"owner": "l3", "due_on": "2099-01-01"}, "title"),
    ],
)
def test_bad_actions_are_a_400_naming_the_field_and_add_nothing(world, api, body, field):
    review = _major(world)
    response = api(world.people[5]).post(f"{URL}{review.pk}/actions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ReviewAction.objects.exists()


def test_an_owner_who_cannot_see_a_security_incident_cannot_own_its_action(world, api):
    secret = world.incident(category=world.security_category)
    review = api(world.people[5]).post(URL, {"incident": secret.reference}, format="json").json()
    response = api(world.people[5]).post(f"{URL}{review['id']}/actions/", {"title": "x", "owner": "l3", "due_on": "2099-01-01"}, format="json")
    assert response.status_code == 400 and "owner" in response.json()


def test_the_owner_marks_their_action_done_and_someone_else_may_not(world, api):
    review = _major(world)
    action = ReviewAction.objects.create(review=review, title="Fix", owner=world.people[3], due_on=date(2099, 1, 1),
                                         due_at=timezone.now(), created_at=timezone.now())  # fmt: skip
    url = f"{URL}{review.pk}/actions/{action.pk}/done/"
    assert api(world.people[4]).post(url).status_code == 403
    action.refresh_from_db()
    assert action.done_at is None
    response = api(world.people[3]).post(url)
    assert response.status_code == 200 and response.json()["done_by"] == "l3"
    assert api(world.people[3]).post(url).status_code == 409


def test_closing_needs_an_outcome(world, api):
    review = _major(world)
    response = api(world.people[5]).post(f"{URL}{review.pk}/close/", {"outcome": ""}, format="json")
    assert response.status_code == 400 and "outcome" in response.json()
    review.refresh_from_db()
    assert review.completed_at is None


def test_the_outcome_of_an_ordinary_incidents_review_skips_subscribers_who_heard_nothing(world, api):
    ServiceSubscription.objects.create(service=world.service, email="cio@example.com", optional=False, created_at=timezone.now())
    incident = world.incident()
    lead = api(world.people[5])
    review = lead.post(URL, {"incident": incident.reference}, format="json").json()
    before = OutboundMessage.objects.count()
    assert lead.post(f"{URL}{review['id']}/close/", {"outcome": "Nothing to change"}, format="json").status_code == 200
    assert {m.to for m in OutboundMessage.objects.order_by("pk")[before:]} == {"svcowner@example.com", "rita@example.com"}


def test_nobody_outside_the_response_team_hears_a_security_reviews_outcome(world, api):
    incident = world.incident(category=world.security_category)
    lead = api(world.people[5])
    review = lead.post(URL, {"incident": incident.reference}, format="json").json()
    before = OutboundMessage.objects.count()
    assert lead.post(f"{URL}{review['id']}/close/", {"outcome": "Keys rotated"}, format="json").status_code == 200
    assert OutboundMessage.objects.count() == before
    closed = TimelineEvent.objects.get(incident=incident, kind="review_closed")
    assert closed.data["recipients"] == 0


def test_a_misspelt_field_is_a_400_naming_it_and_nothing_is_saved(world, api):
    review = _major(world)
    response = api(world.people[5]).patch(f"{URL}{review.pk}/", {"impact": "2 h", "went_wel": "Fast"}, format="json")
    assert response.status_code == 400 and response.json() == {"went_wel": ["Unknown field."]}
    review.refresh_from_db()
    assert review.impact == "" and review.went_well == ""
