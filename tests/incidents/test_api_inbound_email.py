"""POST /api/v1/integrations/email/: one raw message, an integration account's token."""

import pytest
from rest_framework.test import APIClient

from incidents.inbound import mail
from incidents.models import InboundMessage, Incident
from skills.models import ApiToken
from skills.services import token_issue
from tests.incidents.inbound_helpers import bearer, integration
from tests.incidents.mail_helpers import message

pytestmark = pytest.mark.django_db
URL = "/api/v1/integrations/email/"
RFC822 = "message/rfc822"


@pytest.fixture
def client(world):
    return bearer(APIClient(), integration())


def post(client, raw, content_type=RFC822, **extra):
    return client.generic("POST", URL, raw, content_type=content_type, **extra)


def test_a_new_message_registers_an_incident(world, client):
    answer = post(client, message(subject="VPN down", body="Since nine."))
    assert answer.status_code == 202, answer.content
    incident = Incident.objects.get()
    row = InboundMessage.objects.get()
    assert answer.json() == {"id": row.pk, "state": "done", "outcome": "created", "duplicate": False,
                             "reference": incident.reference, "reason": None}  # fmt: skip
    assert (incident.channel, incident.reporter, row.via, row.received_by.username) == (
        "email", world.reporter, "api", "monitoring",
    )  # fmt: skip


def test_the_same_message_again_is_a_duplicate(world, client):
    raw = message(message_id="<twice@client.example>")
    post(client, raw)
    answer = post(client, raw)
    assert answer.status_code == 202
    assert answer.json()["duplicate"] is True
    assert Incident.objects.count() == 1


def test_an_auto_reply_is_taken_and_ignored(world, client):
    answer = post(client, message(headers={"Auto-Submitted": "auto-replied"}))
    assert answer.status_code == 202
    assert (answer.json()["state"], answer.json()["outcome"]) == ("ignored", None)
    assert not Incident.objects.exists()


def test_no_token_is_401(world):
    answer = post(APIClient(), message())
    assert answer.status_code == 401
    assert "detail" in answer.json()
    assert not InboundMessage.objects.exists()


def test_a_person_who_is_not_an_integration_is_403(world):
    answer = post(bearer(APIClient(), world.people[5]), message())
    assert answer.status_code == 403
    assert "ingest" in answer.json()["detail"]
    assert not Incident.objects.exists()


def test_a_read_only_token_is_403(world):
    _, raw = token_issue(person=integration("readonly-monitor"), scope=ApiToken.Scope.READ)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert post(client, message()).status_code == 403
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x"])
def test_another_content_type_is_415(world, client, content_type):
    answer = post(client, message(), content_type=content_type)
    assert answer.status_code == 415
    assert "detail" in answer.json()
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", mail.EMPTY),
        (b"\x00\x01\x02binary junk\xff\xfe", mail.BINARY),
        (b"no headers here", mail.NO_HEADERS),
        (b"Subject: hello\r\n\r\nwho sent me?", mail.NO_FROM),
    ],
)
def test_a_body_that_is_not_a_message_is_400_and_changes_nothing(world, client, raw, reason):
    answer = post(client, raw)
    assert answer.status_code == 400
    assert answer.json() == {"detail": reason}
    assert (Incident.objects.count(), InboundMessage.objects.count()) == (0, 0)


def test_a_message_over_the_limit_is_413(world, client, settings):
    settings.MAIL_MAX_BYTES = 4096
    answer = post(client, message(body="x" * 8000))
    assert answer.status_code == 413
    assert "MAIL_MAX_BYTES" in answer.json()["detail"]
    assert not InboundMessage.objects.exists()


def test_a_30_mb_message_is_refused_by_its_length_before_the_body_is_read(world, client):
    class Unreadable:
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = read

    answer = client.generic("POST", URL, b"x", content_type=RFC822, CONTENT_LENGTH=str(30 * 1024 * 1024),
                            **{"wsgi.input": Unreadable()})  # fmt: skip
    assert answer.status_code == 413
    assert "MAIL_MAX_BYTES" in answer.json()["detail"]
