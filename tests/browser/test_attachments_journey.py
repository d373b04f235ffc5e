"""Attachments in a real browser: staff attach on the incident page (htmx, multipart),
a lying file name and a file over the limit are refused where the form is, the file
downloads under its name; a reporter attaches from their own page. axe-core checks the
page with its attachments."""

import pytest

from incidents.models import Attachment
from tests.incidents.attachment_helpers import PNG

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ATTACHMENT_SCANNER = ""
    return settings.MEDIA_ROOT


def _file(name, data, mime="application/octet-stream"):
    return {"name": name, "mimeType": mime, "buffer": data}


def test_staff_attach_refusals_and_download(world, page, sign_in, axe_violations, settings):
    incident = world.incident(title="Mail relay refuses connections")
    sign_in(world.people[2])
    page.goto(f"/incidents/{incident.reference}/")
    attachments = page.locator("#attachments")
    attachments.get_by_label("File").set_input_files(_file("screen.png", PNG, "image/png"))
    attachments.get_by_role("button", name="Attach").click()
    page.get_by_text("“screen.png” is attached.").wait_for()
    assert page.url.endswith(f"/incidents/{incident.reference}/")  # htmx swapped the page in place
    link = page.locator("#attachments").get_by_role("link", name="screen.png")
    assert link.count() == 1
    assert page.locator("#timeline").get_by_role("link", name="screen.png").count() == 1
    assert axe_violations(page) == []

    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "screen.png"
    assert open(download.value.path(), "rb").read() == PNG  # noqa: SIM115

    # A lying name: the reason shows at the field, and nothing is stored.
    page.locator("#attachments").get_by_label("File").set_input_files(_file("invoice.pdf", PNG, "application/pdf"))
    page.locator("#attachments").get_by_role("button", name="Attach").click()
    page.locator("#attachments").get_by_text("is named .pdf but its content is a PNG image").wait_for()

    # Over the limit: refused before the body is read; the message lands by the form.
    settings.ATTACHMENT_MAX_BYTES = 1024
    page.locator("#attachments").get_by_label("File").set_input_files(_file("big.log", b"x" * (100 * 1024), "text/plain"))
    page.locator("#attachments").get_by_role("button", name="Attach").click()
    page.locator("#attach-error").get_by_text("The file is too large: the limit is 1 KB per file.").wait_for()
    assert list(Attachment.objects.values_list("name", flat=True)) == ["screen.png"]


def test_a_reporter_attaches_a_screenshot(world, page, sign_in):
    incident = world.incident(title="Cannot print")
    sign_in(world.reporter)
    page.goto(f"/my/{incident.reference}/")
    files = page.locator("#attachments")
    files.get_by_label("File").set_input_files(_file("error.png", PNG, "image/png"))
    files.get_by_role("button", name="Attach").click()
    page.get_by_text("Thank you: “error.png” is attached.").wait_for()
    assert page.locator("#attachments").get_by_role("link", name="error.png").count() == 1
    assert Attachment.objects.get().uploaded_by == world.reporter
