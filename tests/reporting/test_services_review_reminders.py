"""Review actions remind their owners by email once they fall due, once."""

from datetime import date

import time_machine
from django.conf import settings
from django.utils import timezone

from incidents.models import OutboundMessage
from reporting import selectors, services
from reporting.models import Review


def _review(world):
    incident = world.incident()
    return services.review_request(actor=world.people[5], incident=incident)


def test_an_action_reminds_its_owner_when_due_and_only_once(world):
    with time_machine.travel("2026-06-01 10:00Z", tick=False):
        review = _review(world)
        action = services.review_add_action(
            actor=world.people[5], review=review, title="Add disk alerts", owner=world.people[3], due_on=date(2026, 6, 3)
        )
        assert services.review_actions_remind(now=timezone.now()) == 0
        assert list(selectors.overdue_actions(world.people[5])) == []
    with time_machine.travel("2026-06-03 00:00:01Z", tick=False):
        assert services.review_actions_remind(now=timezone.now()) == 1
        assert services.review_actions_remind(now=timezone.now()) == 0
        mail = OutboundMessage.objects.get(subject__contains="Review action due")
        assert mail.to == "l3@example.com"
        assert f"Mark it done on the review: {settings.SITE_URL}/reports/reviews/{review.pk}/" in mail.body
        assert list(selectors.overdue_actions(world.people[5])) == []  # due today: not yet overdue
    with time_machine.travel("2026-06-04 00:00:01Z", tick=False):
        assert services.review_actions_remind(now=timezone.now()) == 0
        assert list(selectors.overdue_actions(world.people[5])) == [action]


def test_a_done_action_is_neither_reminded_nor_overdue(world):
    with time_machine.travel("2026-06-01 10:00Z", tick=False):
        review = _review(world)
        action = services.review_add_action(
            actor=world.people[5], review=review, title="x", owner=world.people[3], due_on=date(2026, 6, 1)
        )
        services.review_action_done(actor=world.people[3], action=action)
        assert services.review_actions_remind(now=timezone.now()) == 0
        assert list(selectors.overdue_actions(world.people[5])) == []


def test_the_review_of_an_on_demand_request_is_led_by_the_requester(world):
    review = _review(world)
    assert Review.objects.get().lead == world.people[5]
    assert review.due_at == review.opened_at + services.REVIEW_WITHIN


def test_an_owner_who_may_no_longer_see_the_incident_is_not_reminded(world):
    responder = world.person(3, world.security, username="sec3")
    leaver = world.person(3, username="leaver")
    with time_machine.travel("2026-06-01 10:00Z", tick=False):
        secret = services.review_request(actor=world.people[5], incident=world.incident(category=world.security_category))
        plain = _review(world)
        for review, title, owner in ((secret, "Rotate keys", responder), (plain, "Patch", leaver), (plain, "Alerts", world.people[3])):
            services.review_add_action(actor=world.people[5], review=review, title=title, owner=owner, due_on=date(2026, 6, 2))
    responder.teams.set([world.infra])  # gone from the security team
    leaver.is_active = False
    leaver.save()
    with time_machine.travel("2026-06-02 00:00:01Z", tick=False):
        assert services.review_actions_remind(now=timezone.now()) == 3
        sent = OutboundMessage.objects.filter(subject__contains="Review action due")
        assert [(m.to, m.subject.split(": ", 1)[1]) for m in sent] == [("l3@example.com", "Alerts")]
        assert services.review_actions_remind(now=timezone.now()) == 0  # dealt with: not tried again
    with time_machine.travel("2026-06-03 09:00Z", tick=False):
        # Still on the overdue list, under the owner's name, for who may see the review.
        overdue = list(selectors.overdue_actions(world.people[5]))
        assert [(a.title, a.owner.username) for a in overdue] == [("Rotate keys", "sec3"), ("Patch", "leaver"), ("Alerts", "l3")]
