"""The reports pages in a real browser: no serious accessibility problem (contrast
included), and they fit a 390 px phone without the page scrolling sideways."""

import pytest

from reporting import services
from tests.reporting import scenario

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _fits_a_phone(page):
    page.set_viewport_size({"width": 390, "height": 844})
    return page.evaluate("document.documentElement.scrollWidth <= 390")


def test_metrics_process_report_and_review_pages(world, page, sign_in, axe_violations):
    month = scenario.build(world)
    review = services.review_request(actor=world.people[5], incident=month.held)
    sign_in(world.people[5])
    for url in ("/reports/?from=2026-03-01&to=2026-03-31&group_by=team", "/reports/process/?from=2026-03-01&to=2026-03-31",
                f"/reports/reviews/{review.pk}/", "/reports/reviews/"):
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(url)
        assert page.locator("h1").is_visible()
        assert axe_violations(page) == [], url
        assert _fits_a_phone(page), url
