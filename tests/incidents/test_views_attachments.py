"""Attachments in the browser: the incident page (plain form and htmx), the requester's
page, downloads, refusals, the size answers and bounded queries."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import errors
from incidents.models import Attachment, Status
from incidents.services import attachment_add
from tests.factories import ReporterFactory
from tests.incidents.attachment_helpers import PDF, PNG, TEXT, stored_files
from tests.incidents.helpers import detail_url, force_state, login, snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def attach_url(incident):
    return f"/incidents/{incident.reference}/attachments/"


def my_attach_url(incident):
    return f"/my/{incident.reference}/attachments/"


def download_url(incident, attachment):
    return f"/incidents/{incident.reference}/attachments/{attachment.pk}/"


def post_file(client, url, data, name, **extra):
    return client.post(url, {"file": SimpleUploadedFile(name, data, content_type="application/octet-stream")}, **extra)


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def section(html):
    start = html.index('id="attachments"')
    return html[start:html.index("</section>", start)]


def test_staff_attach_from_the_incident_page_without_javascript(world, client, media):
    incident = world.incident()
    login(client, world.people[1])
    page = client.get(detail_url(incident)).content.decode()
    form = section(page)
    assert 'enctype="multipart/form-data"' in form and 'name="file"' in form
    assert "<script" not in form and "style=" not in form  # CSP: nothing inline
    response = post_file(client, attach_url(incident), PDF, "report.pdf")
    assert response.status_code == 302 and response["Location"] == detail_url(incident)
    attachment = Attachment.objects.get()
    assert (attachment.name, attachment.content_type, attachment.channel) == ("report.pdf", "application/pdf", "web")
    page = client.get(detail_url(incident))
    html = page.content.decode()
    link = f'href="{download_url(incident, attachment)}"'
    assert link in section(html)
    assert html.count(link) == 2  # the list, and the timeline's "Attached a file"
    assert "Attached a file" in html


def test_staff_attach_with_htmx_get_the_page_back(world, client):
    incident = world.incident()
    login(client, world.people[2])
    response = post_file(client, attach_url(incident), PNG, "screen.png", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "“screen.png” is attached." in _messages(response)
    assert [a.name for a in response.context["attachments"]] == ["screen.png"]


def test_the_download_is_an_attachment_with_nosniff(world, client):
    incident = world.incident()
    attachment = attachment_add(actor=world.people[1], incident=incident, name="relay.log", content=TEXT)
    login(client, world.reporter)
    response = client.get(download_url(incident, attachment))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == TEXT
    assert response["Content-Disposition"] == 'attachment; filename="relay.log"'
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_who_may_not_see_the_incident_gets_404_for_the_file(world, client):
    incident = world.incident()
    attachment = attachment_add(actor=world.people[1], incident=incident, name="a.png", content=PNG)
    login(client, ReporterFactory())
    assert client.get(download_url(incident, attachment)).status_code == 404
    assert post_file(client, attach_url(incident), PNG, "a.png").status_code == 404
    client.logout()
    assert client.get(download_url(incident, attachment)).status_code == 302  # to the login


def test_someone_who_sees_it_but_may_not_attach_has_no_form_and_is_refused(world, client, media):
    incident = world.incident()  # the service owner sees it, but did not report it
    login(client, world.owner)
    page = client.get(f"/my/{incident.reference}/")
    assert page.context["attach_form"] is None
    before = snapshot(incident)
    response = post_file(client, attach_url(incident), PNG, "a.png")
    assert response.status_code == 403
    assert "You may not attach here: only its reporter, or SFIA level 1 or higher." in _messages(response)
    assert post_file(client, my_attach_url(incident), PNG, "a.png").status_code == 403
    assert snapshot(incident) == before and stored_files(media) == []


def test_a_lying_extension_is_shown_on_the_form_and_nothing_changes(world, client, media):
    incident = world.incident()
    login(client, world.people[1])
    before = snapshot(incident)
    response = post_file(client, attach_url(incident), PNG, "invoice.pdf")
    assert response.status_code == 400
    message = errors.ATTACHMENT_LYING_NAME.format(name="invoice.pdf", ext="pdf", kind="a PNG image", right="png")
    assert response.context["attach_form"].errors["file"] == [message]
    assert snapshot(incident) == before and stored_files(media) == []


def test_no_file_is_a_400_with_the_reason(world, client):
    incident = world.incident()
    login(client, world.people[1])
    response = client.post(attach_url(incident), {})
    assert response.status_code == 400
    assert response.context["attach_form"].errors["file"] == [errors.NO_FILE]


def test_a_file_over_the_limit_is_a_413_on_the_page(world, client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    incident = world.incident()
    login(client, world.people[1])
    response = post_file(client, attach_url(incident), b"x" * 2048, "big.txt")
    assert response.status_code == 413
    assert "“big.txt” is 2 KB: the limit is 1 KB per file." in response.context["attach_form"].non_field_errors()


def test_a_body_far_over_the_limit_gets_a_page_or_the_message_for_htmx(world, client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    incident = world.incident()
    login(client, world.people[1])
    page = post_file(client, attach_url(incident), b"x" * (100 * 1024), "big.txt")
    assert page.status_code == 413
    html = page.content.decode()
    assert "The file is too large: the limit is 1 KB per file." in html
    assert f'href="{detail_url(incident)}"' in html
    fragment = post_file(client, attach_url(incident), b"x" * (100 * 1024), "big.txt", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 413
    assert (fragment["HX-Retarget"], fragment["HX-Reswap"]) == ("#attach-error", "innerHTML")
    assert not Attachment.objects.exists()


def test_a_closed_incident_offers_no_form_and_refuses(world, client):
    incident = force_state(world.incident(), Status.CLOSED, world.people[3])
    login(client, world.people[3])
    assert client.get(detail_url(incident)).context["attach_form"] is None
    response = post_file(client, attach_url(incident), PNG, "a.png")
    assert response.status_code == 409
    assert "Cannot attach a file to an incident that is closed." in _messages(response)


def test_a_get_on_the_upload_url_gets_the_helpful_page(world, client):
    incident = world.incident()
    login(client, world.people[1])
    assert client.get(attach_url(incident)).status_code == 405


def test_the_reporter_attaches_from_their_page(world, client, media):
    incident = world.incident()
    login(client, world.reporter)
    page = client.get(f"/my/{incident.reference}/")
    assert page.context["attach_form"] is not None
    assert 'enctype="multipart/form-data"' in section(page.content.decode())
    response = post_file(client, my_attach_url(incident), PNG, "screen.png")
    assert response.status_code == 302 and response["Location"] == f"/my/{incident.reference}/"
    page = client.get(f"/my/{incident.reference}/")
    html = page.content.decode()
    attachment = Attachment.objects.get()
    assert f'href="{download_url(incident, attachment)}"' in section(html)
    assert "File attached" in html
    refused = post_file(client, my_attach_url(incident), PNG, "screen.pdf")
    assert refused.status_code == 400 and "its content is a PNG image" in refused.content.decode()
    assert len(stored_files(media)) == 1


def test_pending_files_show_as_waiting_to_their_uploader(world, client, settings):
    settings.ATTACHMENT_SCANNER = "tests.incidents.test_services_attachments.clean_scanner"
    incident = world.incident()
    login(client, world.reporter)
    response = post_file(client, my_attach_url(incident), PNG, "screen.png")
    assert response.status_code == 302
    html = client.get(f"/my/{incident.reference}/").content.decode()
    assert "Being checked for viruses" in section(html)
    attachment = Attachment.objects.get()
    assert client.get(download_url(incident, attachment)).status_code == 404


@pytest.mark.parametrize("page", ["staff", "requester"])
def test_the_page_takes_the_same_queries_for_one_attachment_or_many(world, client, page):
    incident = world.incident()
    person = world.people[1] if page == "staff" else world.reporter
    url = detail_url(incident) if page == "staff" else f"/my/{incident.reference}/"
    login(client, person)
    attachment_add(actor=world.people[1], incident=incident, name="a.png", content=PNG)
    client.get(url)  # warm: sessions, content types
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for n in range(5):
        attachment_add(actor=world.reporter, incident=incident, name=f"{n}.txt", content=TEXT)
    with CaptureQueriesContext(connection) as six:
        response = client.get(url)
    assert len(response.context["attachments"]) == 6
    assert len(six) == len(one), [q["sql"] for q in six.captured_queries]
