"""The reporting pages: metrics with charts and CSV, the process report, reviews."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from incidents import services as incident_services
from reporting import services
from reporting.models import Review, ReviewAction
from tests.reporting import scenario

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def month(world):
    return scenario.build(world)


def _client(person):
    client = Client()
    client.force_login(person)
    return client


def _clean(html):
    """No inline script, no style attribute, no hx-on: the coming CSP allows none."""
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html and "hx-on" not in html


def test_the_metrics_page_draws_charts_and_offers_the_csv(month, world, django_assert_max_num_queries):
    client = _client(world.people[5])
    with django_assert_max_num_queries(16):
        response = client.get("/reports/", {**MARCH, "group_by": "team"})
    assert response.status_code == 200
    html = response.content.decode()
    _clean(html)
    assert html.count('class="chart-bar"') >= 5 + 3  # five days in the trend, three teams
    assert "infrastructure" in html and "security" in html
    assert "format=csv" in html
    csv = client.get("/reports/", {**MARCH, "group_by": "team", "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines()[-1].startswith("total,5,")


def test_level_4_sees_their_teams_and_no_security_incident(month, world):
    html = _client(world.people[4]).get("/reports/", {**MARCH, "group_by": "team"}).content.decode()
    assert "infrastructure" in html and ">security<" not in html


def test_below_level_4_the_metrics_page_is_refused(month, world):
    assert _client(world.people[3]).get("/reports/").status_code == 403


def test_a_bad_period_is_a_form_error_naming_it(world):
    response = _client(world.people[5]).get("/reports/", {"from": "2026-03-31", "to": "2026-03-01"})
    assert response.status_code == 400
    assert "must be on or after" in response.content.decode()
    assert _client(world.people[5]).get("/reports/", {"from": "2026-03-01", "to": "2026-03-31", "group_by": "x"}).status_code == 400


@pytest.mark.parametrize("page", ["/reports/", "/reports/process/"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-31", "to": "2026-03-01"}, "to"),
        ({"from": "2026-03-01"}, "to"),
        ({"to": "2026-03-01"}, "from_"),
        ({"from": "2020-01-01", "to": "2025-01-01"}, "to"),
        ({"from": "1 March", "to": "2026-03-31"}, "from_"),
    ],
)
def test_a_bad_period_on_either_page_is_a_400_at_its_field(world, page, params, field):
    response = _client(world.people[5]).get(page, params)
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {field}
    assert "result" not in response.context or response.context["result"] is None


def test_the_process_report_is_for_level_5_and_prints(month, world, django_assert_max_num_queries):
    assert _client(world.people[4]).get("/reports/process/", MARCH).status_code == 403
    incident_services.incident_close(actor=world.people[4], incident=month.held, override_reason="Vendor task moot",
                                     now=scenario.at(4, 9))  # fmt: skip
    services.reviews_open_for_resolved_majors(now=timezone.now())
    client = _client(world.people[5])
    with django_assert_max_num_queries(30):
        response = client.get("/reports/process/", MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    _clean(html)
    assert 'href="/static/css/print.css" media="print"' in html
    assert month.held.reference in html  # the major incident and its review
    assert "open, due" in html
    assert "hardware v1" in html and "level 3" in html


def test_the_process_report_lists_each_major_incidents_review_actions_with_their_state(month, world):
    services.reviews_open_for_resolved_majors(now=timezone.now())
    review = Review.objects.get(incident=month.held)
    with time_machine.travel(scenario.at(4, 9), tick=False):
        for title, day in (("Vendor escalation path", 5), ("Disk alerts", 6), ("Runbook", 30)):
            services.review_add_action(actor=world.people[5], review=review, title=title, owner=world.people[3],
                                       due_on=scenario.at(day, 0).date())  # fmt: skip
        first = ReviewAction.objects.get(title="Vendor escalation path")
        services.review_action_done(actor=world.people[3], action=first)
    with time_machine.travel(scenario.at(20, 9), tick=False):
        html = _client(world.people[5]).get("/reports/process/", MARCH).content.decode()
    assert "1 / 3 (1 overdue)" in html
    assert re.search(r"Vendor escalation path · l3 · due 2026-03-05 · <span class=\"badge\">done 2026-03-04</span>", html)
    assert re.search(r"Disk alerts · l3 · due 2026-03-06 · <span class=\"badge badge-overdue\">overdue</span>", html)
    assert re.search(r"Runbook · l3 · due 2026-03-30 · <span class=\"badge\">open</span>", html)


def test_the_process_report_lists_checklist_overrides_and_who_made_them(world):
    from incidents.models import IncidentTask

    incident = world.incident()
    IncidentTask.objects.create(incident=incident, position=1, title="Tell the vendor", mandatory=True)
    incident_services.incident_start(actor=world.people[3], incident=incident)
    incident_services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="x", resolution_notes="x")
    incident_services.incident_close(actor=world.people[4], incident=incident, override_reason="Vendor gone")
    html = _client(world.people[5]).get("/reports/process/").content.decode()
    assert "Vendor gone" in html and "l4" in html and "Tell the vendor" in html
    assert "1 closed with the checklist overridden" in html


def test_the_lead_writes_up_adds_an_action_and_closes_a_review_in_the_browser(world):
    incident = world.incident()
    review = services.review_request(actor=world.people[5], incident=incident)
    client = _client(world.people[5])
    page = client.get(f"/reports/reviews/{review.pk}/")
    assert page.status_code == 200
    _clean(page.content.decode())
    response = client.post(f"/reports/reviews/{review.pk}/write-up/", {"impact": "Mail down", "causes": "Disk full\nNo alert"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.causes == ["Disk full", "No alert"]
    bad = client.post(f"/reports/reviews/{review.pk}/actions/", {"title": "Alerts", "owner": "l3", "due_on": "2000-01-01"})
    assert bad.status_code == 400 and "may not be in the past" in bad.content.decode()
    assert not ReviewAction.objects.exists()
    assert client.post(f"/reports/reviews/{review.pk}/actions/", {"title": "Alerts", "owner": "l3", "due_on": "2099-01-01"}).status_code == 302
    assert client.post(f"/reports/reviews/{review.pk}/close/", {"outcome": "Alerts coming"}).status_code == 302
    assert Review.objects.get().completed_at is not None


def test_level_5_opens_a_review_of_any_incident_on_the_reviews_page(world):
    incident = world.incident()
    client = _client(world.people[5])
    page = client.get("/reports/reviews/").content.decode()
    assert 'action="/reports/reviews/new/"' in page
    response = client.post("/reports/reviews/new/", {"incident": incident.reference})
    review = Review.objects.get(incident=incident)
    assert response.status_code == 302 and response["Location"] == f"/reports/reviews/{review.pk}/"
    assert review.lead == world.people[5]
    assert incident.events.filter(kind="review_opened").count() == 1
    again = client.post("/reports/reviews/new/", {"incident": incident.reference})
    assert again.status_code == 409 and "already has a review" in again.content.decode()
    assert Review.objects.count() == 1


@pytest.mark.parametrize("reference", ["", "12", "INC-12", "INC-999999"])
def test_a_bad_or_unknown_reference_is_a_400_naming_the_field(world, reference):
    response = _client(world.people[5]).post("/reports/reviews/new/", {"incident": reference})
    assert response.status_code == 400
    assert response.context["request_form"].errors.keys() == {"incident"}
    assert not Review.objects.exists()


def test_below_level_5_no_review_is_opened_and_a_security_incident_is_unknown(world):
    incident, secret = world.incident(), world.incident(category=world.security_category)
    client = _client(world.people[4])
    assert 'action="/reports/reviews/new/"' not in client.get("/reports/reviews/").content.decode()
    response = client.post("/reports/reviews/new/", {"incident": incident.reference})
    assert response.status_code == 403 and "lead review" in response.content.decode()
    hidden = client.post("/reports/reviews/new/", {"incident": secret.reference})
    assert hidden.status_code == 400 and f"No incident {secret.reference} that you may see" in hidden.content.decode()
    assert not Review.objects.exists()


def test_an_unknown_change_to_a_review_is_a_404_and_changes_nothing(world):
    review = services.review_request(actor=world.people[5], incident=world.incident())
    response = _client(world.people[5]).post(f"/reports/reviews/{review.pk}/rename/", {"impact": "x"})
    assert response.status_code == 404
    review.refresh_from_db()
    assert review.impact == ""


def test_level_4_reads_a_review_but_cannot_change_it(world):
    review = services.review_request(actor=world.people[5], incident=world.incident())
    client = _client(world.people[4])
    page = client.get(f"/reports/reviews/{review.pk}/").content.decode()
    assert "Close and send" not in page
    assert client.post(f"/reports/reviews/{review.pk}/write-up/", {"impact": "mine"}).status_code == 403
    review.refresh_from_db()
    assert review.impact == ""


def test_a_security_review_is_hidden_from_level_4(world):
    review = services.review_request(actor=world.people[5], incident=world.incident(category=world.security_category))
    client = _client(world.people[4])
    assert client.get(f"/reports/reviews/{review.pk}/").status_code == 404
    assert review.incident.reference not in client.get("/reports/reviews/").content.decode()


def test_the_reviews_page_lists_overdue_actions(world, django_assert_max_num_queries):
    review = services.review_request(actor=world.people[5], incident=world.incident())
    yesterday, today = timezone.localdate() - timedelta(days=1), timezone.localdate()
    for title, day in (("Late thing", yesterday), ("Due today", today)):
        ReviewAction.objects.create(review=review, title=title, owner=world.people[3], due_on=day,
                                    due_at=services.due_moment(day), created_at=timezone.now())  # fmt: skip
    client = _client(world.people[3])
    with django_assert_max_num_queries(10):
        html = client.get("/reports/reviews/").content.decode()
    overdue_list = html.split('id="overdue"')[1].split("</section>")[0]
    assert "Late thing" in overdue_list and "Due today" not in overdue_list
    page = client.get(f"/reports/reviews/{review.pk}/").content.decode()
    assert page.count("badge-overdue") == 1
