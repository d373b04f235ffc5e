import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import errors
from incidents.models import Attachment, Status
from incidents.services import attachment_add
from procedures import config_cache
from skills.services import token_issue
from tests.factories import ReporterFactory
from tests.incidents.attachment_helpers import PDF, PNG, TEXT, stored_files
from tests.incidents.helpers import force_state, snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def url(incident, *rest):
    return "/".join([f"/api/v1/incidents/{incident.reference}/attachments", *map(str, rest), ""])


def upload(client, incident, data, name, content_type="application/octet-stream"):
    return client.post(url(incident), {"file": SimpleUploadedFile(name, data, content_type=content_type)},
                       format="multipart")  # fmt: skip


def test_staff_attach_list_and_download(world, api, media):
    incident = world.incident()
    client = api(world.people[1])
    response = upload(client, incident, PDF, "report.pdf", "application/pdf")
    assert response.status_code == 201, response.content
    body = response.json()
    attachment = Attachment.objects.get()
    assert body["id"] == attachment.pk
    assert {k: body[k] for k in ("name", "size", "content_type", "declared_type", "state", "channel", "uploaded_by")} == {
        "name": "report.pdf", "size": len(PDF), "content_type": "application/pdf", "declared_type": "application/pdf",
        "state": "available", "channel": "api", "uploaded_by": "l1",
    }  # fmt: skip
    assert body["download_url"] == f"http://testserver{url(incident, attachment.pk, 'download')}"
    listed = client.get(url(incident)).json()
    assert [row["id"] for row in listed] == [attachment.pk]
    download = client.get(url(incident, attachment.pk, "download"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert download["Content-Type"] == "application/pdf"
    assert download["X-Content-Type-Options"] == "nosniff"
    timeline = client.get(f"/api/v1/incidents/{incident.reference}/timeline/").json()
    assert timeline[-1]["kind"] == "attached" and timeline[-1]["data"]["name"] == "report.pdf"


def test_the_download_is_served_as_the_sniffed_type_whatever_was_declared(world, api):
    incident = world.incident()
    client = api(world.people[1])
    response = upload(client, incident, b"<html><script>alert(1)</script>", "page.txt", "text/html")
    assert response.json()["content_type"] == "text/plain"
    download = client.get(response.json()["download_url"])
    assert download["Content-Type"] == "text/plain"
    assert download["Content-Disposition"].startswith("attachment;")


def test_real_tokens_a_write_token_attaches_a_read_only_one_is_refused(world):
    from rest_framework.test import APIClient

    incident = world.incident()
    _, raw = token_issue(person=world.reporter, name="mine")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert upload(client, incident, PNG, "screen.png").status_code == 201
    _, read_only = token_issue(person=world.people[3], name="ro", scope="read")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only}")
    refused = upload(client, incident, PNG, "screen.png")
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert client.get(url(incident)).status_code == 200
    assert Attachment.objects.count() == 1


def test_the_reporter_attaches_to_their_own_incident(world, api):
    incident = world.incident()
    assert upload(api(world.reporter), incident, PNG, "screen.png").status_code == 201


def test_who_may_not_attach_is_refused_and_nothing_is_stored(world, api, media):
    incident = world.incident()
    before = snapshot(incident)
    other_reporter = upload(api(ReporterFactory()), incident, PNG, "a.png")
    assert other_reporter.status_code == 404  # may not see it
    owner = upload(api(world.owner), incident, PNG, "a.png")  # sees it (their service), did not report it
    assert owner.status_code == 403
    assert owner.json() == {"detail": "You may not attach here: only its reporter, or SFIA level 1 or higher."}
    reader = world.people[3]
    reader.token_scope = "read"
    assert upload(api(reader), incident, PNG, "a.png").status_code == 403
    assert upload(api(None), incident, PNG, "a.png").status_code == 401
    assert snapshot(incident) == before
    assert not Attachment.objects.exists() and stored_files(media) == []


def test_who_may_not_see_the_incident_gets_404_for_the_list_and_the_file(world, api):
    incident = world.incident()
    attachment = attachment_add(actor=world.people[1], incident=incident, name="a.png", content=PNG)
    for person in (ReporterFactory(),):
        client = api(person)
        assert client.get(url(incident)).status_code == 404
        assert client.get(url(incident, attachment.pk, "download")).status_code == 404
    assert api(None).get(url(incident, attachment.pk, "download")).status_code == 401
    security = world.incident(category=world.security_category, actor=world.people[5])
    secret = attachment_add(actor=world.people[5], incident=security, name="a.png", content=PNG)
    assert api(world.people[4]).get(url(security, secret.pk, "download")).status_code == 404
    assert api(world.people[5]).get(url(security, secret.pk, "download")).status_code == 200
    # An attachment id under another incident's reference is not found either.
    assert api(world.people[5]).get(url(incident, secret.pk, "download")).status_code == 404


def test_a_lying_extension_is_a_400_and_changes_nothing(world, api, media):
    incident = world.incident()
    before = snapshot(incident)
    response = upload(api(world.people[1]), incident, PNG, "invoice.pdf", "application/pdf")
    assert response.status_code == 400
    assert response.json() == {"file": [
        errors.ATTACHMENT_LYING_NAME.format(name="invoice.pdf", ext="pdf", kind="a PNG image", right="png")
    ]}  # fmt: skip
    assert snapshot(incident) == before and stored_files(media) == []


def test_no_file_or_json_is_a_clear_4xx(world, api):
    incident = world.incident()
    client = api(world.people[1])
    missing = client.post(url(incident), {"other": "x"}, format="multipart")
    assert missing.status_code == 400 and missing.json() == {"file": [errors.NO_FILE]}
    as_json = client.post(url(incident), {"file": "aGVsbG8="}, format="json")
    assert as_json.status_code == 415


def test_over_the_file_limit_is_413(world, api, settings, media):
    settings.ATTACHMENT_MAX_BYTES = 1024
    incident = world.incident()
    response = upload(api(world.people[1]), incident, TEXT * 40, "big.log")
    assert response.status_code == 413
    assert response.json() == {"detail": f"“big.log” is {len(TEXT) * 40 / 1024:.1f} KB: the limit is 1 KB per file."}
    assert stored_files(media) == []


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(world, client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    incident = world.incident()
    client.force_login(world.people[1])
    response = client.post(url(incident), {"file": SimpleUploadedFile("big.log", b"x" * (100 * 1024))})
    assert response.status_code == 413
    assert response.json() == {"detail": "The file is too large: the limit is 1 KB per file."}


def test_over_the_incident_limit_is_413(world, api, settings):
    settings.ATTACHMENT_MAX_INCIDENT_BYTES = 2048
    incident = world.incident()
    client = api(world.people[1])
    assert upload(client, incident, b"a" * 1500, "one.txt").status_code == 201
    response = upload(client, incident, b"b" * 1500, "two.txt")
    assert response.status_code == 413
    assert "would pass the limit of 2 KB per incident" in response.json()["detail"]


def test_a_closed_incident_is_409(world, api):
    incident = force_state(world.incident(), Status.CLOSED, world.people[3])
    response = upload(api(world.people[3]), incident, PNG, "a.png")
    assert response.status_code == 409
    assert response.json() == {"detail": "Cannot attach a file to an incident that is closed.", "status": "closed"}


def test_pending_attachments_are_listed_without_a_download(world, api, settings):
    settings.ATTACHMENT_SCANNER = "tests.incidents.test_services_attachments.clean_scanner"
    incident = world.incident()
    client = api(world.reporter)
    body = upload(client, incident, PNG, "a.png").json()
    assert (body["state"], body["download_url"]) == ("pending", None)
    assert client.get(url(incident, body["id"], "download")).status_code == 404
    assert api(world.people[1]).get(url(incident)).json()[0]["state"] == "pending"


def test_the_list_takes_the_same_queries_for_one_attachment_or_many(world, api):
    incident = world.incident()
    client = api(world.people[1])
    attachment_add(actor=world.people[1], incident=incident, name="a.png", content=PNG)
    config_cache.snapshot()
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(url(incident)).json()) == 1
    for n in range(5):
        attachment_add(actor=world.reporter, incident=incident, name=f"{n}.txt", content=TEXT)
    with CaptureQueriesContext(connection) as six:
        assert len(client.get(url(incident)).json()) == 6
    assert len(six) == len(one)


def test_the_schema_documents_the_endpoints(world, api):
    paths = api(world.people[1]).get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths["/api/v1/incidents/{reference}/attachments/"]) >= {"get", "post"}
    assert "get" in paths["/api/v1/incidents/{reference}/attachments/{attachment_id}/download/"]
