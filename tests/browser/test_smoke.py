"""The browser harness itself: a person signs in through the form and sees the queue,
and the queue page has no serious accessibility problem."""

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_see_the_queue(world, page, sign_in, axe_violations):
    incident = world.incident(title="Projector smells of smoke")
    sign_in(world.people[2])
    assert page.get_by_role("heading", name="Incident queue").is_visible()
    assert page.get_by_role("link", name="Projector smells of smoke").is_visible()
    page.get_by_role("link", name=incident.reference).click()
    assert page.get_by_role("heading", name="Projector smells of smoke").is_visible()
    assert axe_violations(page) == []
