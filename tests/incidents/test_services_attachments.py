import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.http import Http404

from incidents import errors
from incidents.models import Attachment, Status, TimelineEvent
from incidents.selectors import access_attachment, attachments_for
from incidents.services import attachment_add, attachments_scan
from skills.errors import Conflict, Forbidden, TooLarge
from tests.factories import ReporterFactory
from tests.incidents.attachment_helpers import EXE, PDF, PNG, TEXT, stored_files
from tests.incidents.helpers import force_state, snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def clean_scanner(file, *, attachment):
    assert file.read() == attachment.file.storage.open(attachment.file.name).read()
    return None


def eicar_scanner(file, *, attachment):
    return "Eicar-Test-Signature FOUND" if b"EICAR" in file.read() else None


def broken_scanner(file, *, attachment):
    raise ConnectionError("clamd is not answering")


def refused_and_nothing_changed(media, incident, call, error):
    before = snapshot(incident)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(incident) == before
    assert not Attachment.objects.filter(incident=incident).exists()
    assert stored_files(media) == []
    return caught.value


def test_staff_attach_a_file_it_is_stored_and_on_the_timeline(world, media):
    incident = world.incident()
    with time_machine.travel(T0, tick=False):
        attachment = attachment_add(
            actor=world.people[1], incident=incident, name="relay.log", content=TEXT, declared_type="text/x-log"
        )
    assert attachment.state == Attachment.State.AVAILABLE
    assert (attachment.name, attachment.size, attachment.content_type) == ("relay.log", len(TEXT), "text/plain")
    assert attachment.declared_type == "text/x-log"
    assert attachment.file.name.startswith(f"attachments/{incident.pk}/")
    assert "relay" not in attachment.file.name  # the sender's name never becomes a path
    assert [p.read_bytes() for p in stored_files(media)] == [TEXT]
    event = TimelineEvent.objects.filter(incident=incident).latest("id")
    assert (event.kind, event.actor, event.at, event.is_public) == ("attached", world.people[1], T0, True)
    assert event.data == {"attachment": attachment.pk, "name": "relay.log", "size": len(TEXT),
                          "content_type": "text/plain", "channel": "web"}  # fmt: skip
    assert access_attachment(world.reporter, incident.reference, attachment.pk) == attachment


def test_a_file_object_works_like_bytes(world):
    incident = world.incident()
    attachment = attachment_add(actor=world.people[2], incident=incident, name="a.pdf", content=io.BytesIO(PDF),
                                channel="email")  # fmt: skip
    assert (attachment.content_type, attachment.channel) == ("application/pdf", "email")
    assert attachment.file.read() == PDF


def test_the_reporter_may_attach_to_their_own_incident(world):
    incident = world.incident()
    attachment = attachment_add(actor=world.reporter, incident=incident, name="screen.png", content=PNG)
    assert attachment.uploaded_by == world.reporter and attachment.state == Attachment.State.AVAILABLE


def test_another_reporter_is_refused(world, media):
    incident = world.incident()
    other = ReporterFactory()
    error = refused_and_nothing_changed(
        media, incident, lambda: attachment_add(actor=other, incident=incident, name="a.png", content=PNG), Forbidden
    )
    assert "attach" in error.message


def test_the_service_owner_who_may_see_it_is_refused(world, media):
    incident = world.incident()  # on the owner's service: they see it, but did not report it
    error = refused_and_nothing_changed(
        media, incident, lambda: attachment_add(actor=world.owner, incident=incident, name="a.png", content=PNG),
        Forbidden,
    )  # fmt: skip
    assert error.message == "You may not attach here: only its reporter, or SFIA level 1 or higher."


def test_a_read_only_token_is_refused(world, media):
    incident = world.incident()
    person = world.people[3]
    person.token_scope = "read"
    refused_and_nothing_changed(
        media, incident, lambda: attachment_add(actor=person, incident=incident, name="a.png", content=PNG), Forbidden
    )


def test_staff_who_may_not_see_a_security_incident_are_refused(world, media):
    incident = world.incident(category=world.security_category, actor=world.people[5])
    refused_and_nothing_changed(
        media, incident, lambda: attachment_add(actor=world.people[4], incident=incident, name="a.png", content=PNG),
        Forbidden,
    )  # fmt: skip


def test_a_closed_incident_takes_no_attachments(world, media):
    incident = force_state(world.incident(), Status.CLOSED, world.people[3])
    error = refused_and_nothing_changed(
        media, incident, lambda: attachment_add(actor=world.people[3], incident=incident, name="a.png", content=PNG),
        Conflict,
    )  # fmt: skip
    assert error.message == "Cannot attach a file to an incident that is closed."


def test_a_resolved_incident_still_takes_them(world):
    incident = force_state(world.incident(), Status.RESOLVED, world.people[3])
    assert attachment_add(actor=world.reporter, incident=incident, name="a.png", content=PNG).pk


def test_a_lying_extension_is_refused_and_nothing_is_stored(world, media):
    incident = world.incident()
    error = refused_and_nothing_changed(
        media, incident, lambda: attachment_add(actor=world.people[1], incident=incident, name="invoice.pdf",
                                                content=PNG, declared_type="application/pdf"),
        ValidationError,
    )  # fmt: skip
    assert error.message_dict["file"] == [
        errors.ATTACHMENT_LYING_NAME.format(name="invoice.pdf", ext="pdf", kind="a PNG image", right="png")
    ]


def test_a_program_is_refused_whatever_it_is_called(world, media):
    incident = world.incident()
    error = refused_and_nothing_changed(
        media, incident, lambda: attachment_add(actor=world.people[1], incident=incident, name="photo.jpg",
                                                content=EXE, declared_type="image/jpeg"),
        ValidationError,
    )  # fmt: skip
    assert error.message_dict["file"][0].startswith("The content of “photo.jpg” is not a type Firebreak accepts")


def test_a_file_over_the_limit_is_refused(world, media, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    incident = world.incident()
    error = refused_and_nothing_changed(
        media, incident, lambda: attachment_add(actor=world.people[1], incident=incident, name="big.txt",
                                                content=b"x" * 1025),
        TooLarge,
    )  # fmt: skip
    assert error.message == "“big.txt” is 1 KB: the limit is 1 KB per file."
    assert attachment_add(actor=world.people[1], incident=incident, name="ok.txt", content=b"x" * 1024).pk


def test_the_incident_limit_counts_what_is_already_attached(world, media, settings):
    settings.ATTACHMENT_MAX_INCIDENT_BYTES = 2048
    incident = world.incident()
    attachment_add(actor=world.people[1], incident=incident, name="one.txt", content=b"x" * 1500)
    before = snapshot(incident)
    with pytest.raises(TooLarge) as caught:
        attachment_add(actor=world.people[1], incident=incident, name="two.txt", content=b"y" * 600)
    assert caught.value.message.startswith(f"{incident.reference} already holds 1.5 KB of attachments")
    assert snapshot(incident) == before
    assert len(stored_files(media)) == 1
    other = world.incident()  # per incident, not per person
    assert attachment_add(actor=world.people[1], incident=other, name="two.txt", content=b"y" * 600).pk


def test_with_a_scanner_an_attachment_waits_until_it_is_scanned(world, settings):
    settings.ATTACHMENT_SCANNER = "tests.incidents.test_services_attachments.clean_scanner"
    incident = world.incident()
    attachment = attachment_add(actor=world.reporter, incident=incident, name="a.png", content=PNG)
    assert attachment.state == Attachment.State.PENDING
    assert not TimelineEvent.objects.filter(incident=incident, kind="attached").exists()
    with pytest.raises(Http404):
        access_attachment(world.reporter, incident.reference, attachment.pk)
    assert list(attachments_for(world.reporter, incident)) == [attachment]  # the uploader sees it waiting
    assert list(attachments_for(ReporterFactory(), incident)) == []
    with time_machine.travel(T0, tick=False):
        assert attachments_scan() == 1
    attachment.refresh_from_db()
    assert (attachment.state, attachment.scanned_at) == (Attachment.State.AVAILABLE, T0)
    assert TimelineEvent.objects.get(incident=incident, kind="attached").data["attachment"] == attachment.pk
    assert access_attachment(world.reporter, incident.reference, attachment.pk) == attachment
    assert attachments_scan() == 0  # done once


def test_a_rejection_is_recorded_and_the_bytes_deleted(world, media, settings, django_capture_on_commit_callbacks):
    settings.ATTACHMENT_SCANNER = "tests.incidents.test_services_attachments.eicar_scanner"
    incident = world.incident()
    attachment = attachment_add(actor=world.reporter, incident=incident, name="eicar.txt", content=EICAR)
    clean = attachment_add(actor=world.reporter, incident=incident, name="fine.txt", content=TEXT)
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_scan() == 2
    attachment.refresh_from_db()
    assert attachment.state == Attachment.State.REJECTED
    assert attachment.rejection == "Eicar-Test-Signature FOUND"
    assert [p.read_bytes() for p in stored_files(media)] == [TEXT]
    event = TimelineEvent.objects.get(incident=incident, kind="attachment_rejected")
    assert not event.is_public and event.data["reason"] == "Eicar-Test-Signature FOUND"
    with pytest.raises(Http404):
        access_attachment(world.people[5], incident.reference, attachment.pk)
    assert access_attachment(world.reporter, incident.reference, clean.pk) == clean
    assert list(attachments_for(world.people[1], incident)) == [attachment, clean]
    assert list(attachments_for(ReporterFactory(), incident)) == [clean]


def test_a_scanner_that_fails_leaves_it_pending(world, settings):
    settings.ATTACHMENT_SCANNER = "tests.incidents.test_services_attachments.broken_scanner"
    incident = world.incident()
    attachment = attachment_add(actor=world.people[1], incident=incident, name="a.png", content=PNG)
    assert attachments_scan() == 0
    attachment.refresh_from_db()
    assert attachment.state == Attachment.State.PENDING
    settings.ATTACHMENT_SCANNER = "tests.incidents.test_services_attachments.clean_scanner"
    assert attachments_scan() == 1


def test_others_who_may_not_see_the_incident_get_404(world):
    incident = world.incident()
    attachment = attachment_add(actor=world.people[1], incident=incident, name="a.png", content=PNG)
    for person in (ReporterFactory(), None):
        with pytest.raises(Http404):
            access_attachment(person, incident.reference, attachment.pk)
    other = world.incident()
    with pytest.raises(Http404):  # the id of another incident's attachment
        access_attachment(world.people[1], other.reference, attachment.pk)
