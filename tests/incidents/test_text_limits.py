"""How much text an incident takes is one definition (procedures.limits) that every entry
point keeps (issue 7, item 7): the register page took a megabyte, and a large distinct
description failed in PostgreSQL's search vector (a 500)."""

import pytest
from django.core.exceptions import ValidationError

from incidents import services
from incidents.models import Incident
from procedures.limits import REASON_MAX, TEXT_MAX, TITLE_MAX

pytestmark = pytest.mark.django_db


def _distinct_words(characters):
    """Text of distinct words (each its own lexeme in the search vector)."""
    words, n = [], 0
    length = 0
    while length < characters:
        word, k = "", n
        while True:
            word, k = chr(97 + k % 26) + word, k // 26
            if not k:
                break
        words.append("q" + word)
        length += len(word) + 2
        n += 1
    return " ".join(words)[:characters]


def _form(world, description):
    return {
        "title": "Mail down", "description": description, "category": world.hardware.pk, "impact": 2, "urgency": 2,
    }  # fmt: skip


@pytest.mark.parametrize("who", [1, "reporter"])
def test_the_register_page_refuses_a_description_over_the_limit(world, client, who):
    client.force_login(world.people[1] if who == 1 else world.reporter)
    huge = _distinct_words(900_000)
    answer = client.post("/incidents/new/", _form(world, huge))
    assert answer.status_code == 400
    assert f"at most {TEXT_MAX:,} characters" in answer.content.decode().replace("20000", "20,000")
    assert not Incident.objects.exists()


def test_a_description_at_the_limit_is_kept_and_searchable(world, client):
    client.force_login(world.people[1])
    text = _distinct_words(TEXT_MAX)
    answer = client.post("/incidents/new/", _form(world, text))
    assert answer.status_code == 302
    incident = Incident.objects.get()
    assert len(incident.description) == TEXT_MAX
    assert client.get("/", {"q": text.split()[100]}).status_code == 200


def test_the_api_keeps_the_same_limit(world, api):
    body = {"title": "Mail", "category": "hardware", "impact": 2, "urgency": 2, "description": "x" * (TEXT_MAX + 1)}
    answer = api(world.people[1]).post("/api/v1/incidents/", body, format="json")
    assert answer.status_code == 400 and "description" in answer.json()
    body["title"] = "t" * (TITLE_MAX + 1)
    assert "title" in api(world.people[1]).post("/api/v1/incidents/", body, format="json").json()


def test_the_services_refuse_what_an_entry_point_let_through(world):
    with pytest.raises(ValidationError) as refused:
        world.incident(description=_distinct_words(TEXT_MAX + 1))
    assert "description" in refused.value.message_dict
    incident = world.incident()
    with pytest.raises(ValidationError):
        services.incident_update(actor=world.people[1], incident=incident, description="x" * (TEXT_MAX + 1))
    with pytest.raises(ValidationError):
        services.incident_add_note(actor=world.people[2], incident=incident, body="x" * (TEXT_MAX + 1))
    with pytest.raises(ValidationError):
        services.incident_hold(actor=world.people[2], incident=incident, reason="x" * (REASON_MAX + 1))
    incident.refresh_from_db()
    assert incident.description == "Smoke" and incident.status == "new"
