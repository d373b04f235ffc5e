"""Label rules for inbound alerts: written at level 4 through the service, validated."""

import pytest

from procedures.models import LabelRule

pytestmark = pytest.mark.django_db
URL = "/api/v1/label-rules/"
RULE = {"slug": "sev-critical", "label": "severity", "value": "critical", "impact": 1, "urgency": 1}


def test_level_4_creates_and_changes_a_rule(world, api):
    client = api(world.people[4])
    answer = client.post(URL, {**RULE, "category": "hardware"}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["category"] == "hardware"
    answer = client.patch(f"{URL}sev-critical/", {"urgency": 2}, format="json")
    assert answer.status_code == 200
    assert LabelRule.objects.get().urgency == 2
    assert client.get(URL).json()[0]["slug"] == "sev-critical"


def test_level_3_is_refused_and_nothing_changes(world, api):
    answer = api(world.people[3]).post(URL, RULE, format="json")
    assert answer.status_code == 403
    assert "manage configuration" in answer.json()["detail"]
    assert not LabelRule.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "r", "label": "severity", "value": "critical"}, "category"),
        ({**RULE, "category": "nope"}, "category"),
        ({**RULE, "impact": 7}, "impact"),
        ({**RULE, "label": ""}, "label"),
    ],
)
def test_bad_rules_are_400_naming_the_field(world, api, body, field):
    answer = api(world.people[4]).post(URL, body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not LabelRule.objects.exists()
