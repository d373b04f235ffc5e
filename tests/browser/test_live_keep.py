"""Live updates never take away what the person is doing (issue 9, item 2, docs/live.md):
typed text, an open form and the focus survive a change made elsewhere and the page's own
actions; a region holding the focus waits behind a hint; a poll sent before an action
never draws over it; the keyboard shortcuts never fire from a field."""

import pytest

from incidents import services
from incidents.models import Incident

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POLL_TIMEOUT = 12_000  # two polls of 5 s, and some
# Each poll's outcome, as live.js reports it (firebreak:live-polled); their count on <body>
# for a locator to wait on (wait_for_function would evaluate a string: the CSP refuses it).
WATCH_POLLS = (
    "window.polled = []; document.addEventListener('firebreak:live-polled', e => {"
    " window.polled.push(e.detail); document.body.dataset.polled = window.polled.length; })"
)


def _in_progress(world, person, **kwargs):
    incident = world.incident(**kwargs)
    services.incident_assign(actor=person, incident=incident, assignee=person)
    services.incident_start(actor=person, incident=incident)
    return incident


def _is_poll(request):
    return request.headers.get("x-firebreak-live") == "1"


def test_typed_text_an_open_form_and_the_focus_survive_a_change_made_elsewhere(world, page, sign_in):
    me, other = world.people[3], world.people[4]
    incident = _in_progress(world, me, title="Projector smells of smoke")
    sign_in(me)
    page.goto(f"/incidents/{incident.reference}/")
    page.locator("summary", has_text="Resolve").click()
    code = page.get_by_label("Resolution code")
    code.fill("workaround")
    composer = page.get_by_label("Message")
    composer.click()
    page.keyboard.type("Half a thought: call the facilities desk")  # 'a' and 'c' are shortcuts elsewhere

    services.incident_add_note(actor=other, incident=incident, body="Seen from the other desk")
    services.incident_prioritise(actor=other, incident=incident, priority=1, reason="The board meets there")

    # The change shows within a poll or two, where it belongs...
    page.locator('[data-live-region="incident-timeline"]').get_by_text("Seen from the other desk").wait_for(timeout=POLL_TIMEOUT)
    page.locator('[data-live-region="incident-head"] .prio-1').wait_for(timeout=POLL_TIMEOUT)
    # ...and nothing the person was doing moved.
    assert composer.input_value() == "Half a thought: call the facilities desk"
    assert page.evaluate("document.activeElement.id") == "id_compose_body"
    assert page.locator("details.action-panel", has=code).evaluate("panel => panel.open")
    assert code.input_value() == "workaround"
    page.keyboard.type(", then resolve")
    assert composer.input_value() == "Half a thought: call the facilities desk, then resolve"
    assert page.url.endswith(f"/incidents/{incident.reference}/")  # no shortcut fired
    assert page.get_by_role("button", name="Updated: refresh this part").count() == 0


def test_an_action_keeps_what_is_typed_elsewhere_and_the_next_poll_is_304(world, page, sign_in):
    me = world.people[3]
    incident = _in_progress(world, me)
    sign_in(me)
    page.goto(f"/incidents/{incident.reference}/")
    page.evaluate(WATCH_POLLS)
    composer = page.get_by_label("Message")
    composer.fill("A draft for the reporter")
    page.get_by_label("Public update").check()
    page.locator("summary", has_text="Resolve").click()
    page.get_by_label("Resolution code").fill("fixed")

    page.get_by_role("button", name="Watch", exact=True).click()
    page.get_by_text(f"You are watching {incident.reference}").first.wait_for()

    assert composer.input_value() == "A draft for the reporter"
    assert page.get_by_label("Public update").is_checked()
    assert page.get_by_label("Resolution code").input_value() == "fixed"
    assert page.locator("details.action-panel", has=page.get_by_label("Resolution code")).evaluate("panel => panel.open")
    # The answer named the version it drew: the first poll sent after it is a 304.
    with page.expect_request(_is_poll, timeout=POLL_TIMEOUT) as sent:
        pass
    assert sent.value.headers.get("if-none-match")
    assert sent.value.response().status == 304


def test_a_region_holding_the_focus_waits_behind_a_hint(world, page, sign_in):
    me, other = world.people[3], world.people[2]
    incident = world.incident()
    services.incident_add_note(actor=other, incident=incident, body="First look")
    sign_in(me)
    page.goto(f"/incidents/{incident.reference}/")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")  # the newest timeline entry
    page.evaluate("window.held = document.activeElement")
    assert page.evaluate("window.held.closest('[data-live-region]').dataset.liveRegion") == "incident-timeline"

    services.incident_add_note(actor=other, incident=incident, body="Second look")
    hint = page.get_by_role("button", name="Updated: refresh this part")
    hint.wait_for(timeout=POLL_TIMEOUT)
    assert page.evaluate("document.activeElement === window.held && window.held.isConnected")
    assert page.get_by_text("Second look").count() == 0

    hint.click()
    page.get_by_text("Second look").wait_for()
    assert page.evaluate("document.activeElement.dataset.liveRegion") == "incident-timeline"
    assert hint.count() == 0


def test_a_queue_row_with_the_focus_updates_once_the_person_moves_on(world, page, sign_in):
    world.incident(title="Already here")
    sign_in(world.people[2])
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    assert page.evaluate("!!document.activeElement.closest('[data-live-region=\"queue\"]')")
    world.incident(title="Arrived while reading")
    page.get_by_role("button", name="Updated: refresh this part").wait_for(timeout=POLL_TIMEOUT)
    assert page.get_by_role("link", name="Arrived while reading").count() == 0
    page.keyboard.press("/")  # to the search field: out of the region
    page.get_by_role("link", name="Arrived while reading").wait_for()
    assert page.evaluate("document.activeElement.id") == "id_q"
    assert page.get_by_role("button", name="Updated: refresh this part").count() == 0


def test_a_poll_sent_before_an_action_never_draws_over_it(world, page, sign_in):
    me = world.people[3]
    incident = world.incident()
    services.incident_assign(actor=me, incident=incident, assignee=me)
    path = f"/incidents/{incident.reference}/"
    held = []

    def hold(route):
        if _is_poll(route.request) and not held:
            held.append(route)  # answered after the action
        else:
            route.continue_()

    sign_in(me)
    page.route(lambda url: url.endswith(path), hold)
    page.goto(path)
    page.evaluate(WATCH_POLLS)
    # What the page looked like before the action, as a poll would have been answered.
    before = page.request.get(path, headers={"X-Firebreak-Live": "1", "HX-Request": "true"})
    assert "Assigned" in before.text()
    with page.expect_request(_is_poll, timeout=POLL_TIMEOUT):
        pass
    page.get_by_role("button", name="Start work").click()
    page.get_by_text("Start work: done.").wait_for()
    assert len(held) == 1
    held[0].fulfill(status=200, headers={"Content-Type": "text/html", "ETag": '"before"'}, body=before.text())
    page.locator("body[data-polled]").wait_for(state="attached")
    assert page.evaluate("window.polled[0]") == {"status": 200, "stale": True}
    assert page.locator('[data-live-region="incident-head"] .status').inner_text() == "In progress"


def test_shortcuts_never_fire_from_a_field(world, page, sign_in):
    me = world.people[3]
    incident = world.incident()
    sign_in(me)
    page.goto(f"/incidents/{incident.reference}/")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    here = page.url
    assert page.locator("#assign-to-me").count() == 1  # "a" would assign it

    page.locator("summary", has_text="Edit details").click()
    page.get_by_label("Category").focus()
    page.keyboard.press("c")
    page.keyboard.press("a")
    page.get_by_label("Public update").focus()  # a radio button is an input too
    page.keyboard.press("c")
    page.keyboard.press("a")
    page.evaluate(
        "() => { const box = document.createElement('div'); box.contentEditable = 'true'; box.id = 'scratch';"
        " box.innerHTML = '<p>notes</p>'; document.querySelector('#incident').append(box); }"
    )
    page.locator("#scratch p").click()
    page.keyboard.type("ca ")
    assert page.url == here and posts == []

    # A field that vanishes while the person types: the keys that follow are still theirs.
    page.get_by_label("Message").click()
    page.keyboard.type("Rep")
    page.evaluate("document.getElementById('id_compose_body').remove()")
    page.keyboard.type("laced")
    assert page.url == here and posts == []
    incident.refresh_from_db()
    assert incident.assignee_id is None

    # Once they click the page, the shortcuts are back.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("c")
    page.wait_for_url("**/incidents/new/")
    assert Incident.objects.get(pk=incident.pk).assignee_id is None
