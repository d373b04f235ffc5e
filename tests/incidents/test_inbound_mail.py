"""Email in (incidents.inbound.mail): new mail, replies, loops, bad messages."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import notify, services
from incidents.inbound import mail
from incidents.models import (
    Attachment,
    InboundMessage,
    Incident,
    OutboundMessage,
    Status,
    TimelineEvent,
)
from skills.models import Person, PersonChange
from tests.factories import PersonFactory, ReporterFactory
from tests.incidents.mail_helpers import PNG, message

pytestmark = pytest.mark.django_db
Kind = TimelineEvent.Kind
API = InboundMessage.Via.API


def take(raw, **kwargs):
    return mail.receive(raw, via=kwargs.pop("via", API), **kwargs)


def sent_message_id(incident, to):
    """The Message-ID of a message the outbox queued for `to` about `incident`."""
    notify.queue_email(incident, [notify.Recipient(to)], headline="Update", body="We are on it.", key="t",
                       now=timezone.now())  # fmt: skip
    return OutboundMessage.objects.get(incident=incident, to=to).headers["Message-ID"]


def resolved(world, incident):
    engineer = world.people[3]
    services.incident_start(actor=engineer, incident=incident)
    return services.incident_resolve(actor=engineer, incident=incident, resolution_code="fixed", resolution_notes="Done.")


# --- new mail ---------------------------------------------------------------------------------


def test_new_mail_from_a_known_person_registers_an_incident(world):
    row = take(message(subject="Printer on fire", body="It smokes.\n-- \nRita\n"))
    incident = Incident.objects.get()
    assert (row.state, row.outcome, row.incident, row.person) == ("done", "created", incident, world.reporter)
    assert (incident.title, incident.channel, incident.reporter, incident.created_by) == (
        "Printer on fire", "email", world.reporter, world.reporter,
    )  # fmt: skip
    assert incident.description.startswith("It smokes.")
    registered = incident.events.get(kind=Kind.REGISTERED)
    assert registered.data["channel"] == "email"
    assert registered.data["message_id"] == row.message_id
    assert mail.answer(row) == {"id": row.pk, "state": "done", "outcome": "created", "duplicate": False,
                                "reference": incident.reference, "reason": None}  # fmt: skip


def test_an_unknown_sender_gets_a_reporter_account_through_the_audited_service(world):
    take(message(sender="Nina Newcomer <Nina@Customer.example>"))
    person = Person.objects.get(email="nina@customer.example")
    assert (person.role, person.sfia_level, person.has_usable_password()) == ("reporter", None, False)
    assert (person.first_name, person.last_name) == ("Nina", "Newcomer")
    change = PersonChange.objects.get(person=person)
    assert (change.kind, change.actor, change.actor_name) == ("created", None, "email in")
    assert Incident.objects.get().reporter == person
    take(message(sender="nina@customer.example", subject="Again"))
    assert Person.objects.filter(email__iexact="nina@customer.example").count() == 1
    assert Incident.objects.filter(reporter=person).count() == 2


def test_an_integration_that_posts_the_mail_is_named_in_the_account_history(world):
    monitor = PersonFactory(username="mailgw", role="integration", sfia_level=None)
    take(message(sender="new@customer.example"), received_by=monitor)
    change = PersonChange.objects.get(person__email="new@customer.example")
    assert (change.actor, change.actor_name) == (monitor, "email in")


def test_html_only_mail_becomes_safe_text(world):
    html = ('<html><head><style>p {color: red}</style><script>alert("x")</script></head><body>'
            '<p>The <b>VPN</b> &amp; email are down.</p><img src="x" onerror="alert(1)"><p>Since 9:00</p></body></html>')  # fmt: skip
    take(message(body=None, html=html))
    description = Incident.objects.get().description
    assert description == "The VPN & email are down.\n\nSince 9:00"


def test_the_same_message_twice_is_taken_once(world):
    raw = message(message_id="<once@client.example>")
    first, second = take(raw), take(raw)
    assert (first.duplicate, second.duplicate, second.pk) == (False, True, first.pk)
    assert Incident.objects.count() == 1
    assert InboundMessage.objects.count() == 1


def test_a_message_without_a_message_id_is_known_by_its_hash(world):
    raw = b"From: rita@example.com\r\nSubject: No id\r\n\r\nHello\r\n"
    row = take(raw)
    assert row.key == mail.raw_key(raw) and row.message_id == ""
    assert take(raw).duplicate


# --- replies ----------------------------------------------------------------------------------


def test_a_reply_to_a_message_we_sent_is_a_public_comment_without_the_quote(world):
    incident = world.incident()
    our_id = sent_message_id(incident, "rita@example.com")
    body = "Still smoking, now from the tray.\n\nOn Mon, 1 Jan 2026, Firebreak <desk@example.com> wrote:\n> We are on it.\n"
    row = take(message(subject=f"Re: [{incident.reference}] Update", body=body, headers={"In-Reply-To": our_id}))
    assert (row.outcome, row.incident) == ("commented", incident)
    comment = incident.events.get(kind=Kind.COMMENT)
    assert (comment.actor, comment.is_public, comment.data["body"]) == (
        world.reporter, True, "Still smoking, now from the tray.",
    )  # fmt: skip
    assert comment.data["via"] == "email"
    assert Incident.objects.count() == 1


def test_a_reply_found_by_the_thread_in_references(world):
    incident = world.incident()
    take(message(subject="Re: something", body="More detail", headers={"References": notify.thread_id(incident)}))
    assert incident.events.filter(kind=Kind.COMMENT).count() == 1


def test_a_forged_message_id_of_ours_that_we_never_sent_is_not_a_reply(world):
    incident = world.incident()
    forged = f"<{'0' * 20}.{incident.pk}@{notify._domain()}>"
    take(message(subject="Hello", headers={"In-Reply-To": forged}))
    assert Incident.objects.count() == 2


def test_a_reply_by_reference_in_the_subject_trims_outlook_history_and_signature(world):
    incident = world.incident()
    body = "It works again.\n-- \nRita Reporter\nACME\n\n-----Original Message-----\nFrom: Firebreak\nold text"
    take(message(subject=f"RE: [{incident.reference}] Printer on fire", body=body))
    assert incident.events.get(kind=Kind.COMMENT).data["body"] == "It works again."


def test_a_staff_reply_is_an_internal_note(world):
    incident = world.incident()
    analyst = world.people[2]
    row = take(message(sender=analyst.email, subject=f"[{incident.reference}] notes", body="Toner replaced."))
    assert row.outcome == "noted"
    note = incident.events.get(kind=Kind.NOTE)
    assert (note.actor, note.is_public, note.data["body"]) == (analyst, False, "Toner replaced.")


def test_level_one_staff_who_may_not_write_notes_comment(world):
    incident = world.incident()
    take(message(sender=world.people[1].email, subject=f"[{incident.reference}]", body="Seen it too."))
    assert incident.events.get(kind=Kind.COMMENT).actor == world.people[1]


def test_the_reporters_reply_reopens_a_resolved_incident_within_the_window(world):
    incident = resolved(world, world.incident())
    row = take(message(subject=f"Re: [{incident.reference}] Resolved", body="Not fixed, it smokes again."))
    incident.refresh_from_db()
    assert (row.outcome, incident.status) == ("reopened", Status.IN_PROGRESS)
    assert incident.events.filter(kind=Kind.COMMENT).count() == 1
    assert incident.events.get(kind=Kind.REOPENED).data["by_reporter"] is True


def test_after_the_reopen_window_the_reply_is_only_a_comment(world, settings):
    incident = resolved(world, world.incident())
    with time_machine.travel(timezone.now() + timedelta(days=settings.REOPEN_WINDOW_DAYS + 1)):
        row = take(message(subject=f"Re: [{incident.reference}]", body="Not fixed."))
    incident.refresh_from_db()
    assert (row.outcome, incident.status) == ("commented", Status.RESOLVED)


def test_a_reply_from_someone_who_may_not_see_the_incident_becomes_a_new_incident(world):
    incident = world.incident()
    stranger = ReporterFactory(username="sam")
    row = take(message(sender=stranger.email, subject=f"Re: [{incident.reference}] Printer on fire", body="Me too"))
    assert row.outcome == "created" and row.incident != incident
    assert row.incident.reporter == stranger
    assert not incident.events.filter(kind=Kind.COMMENT).exists()


def test_a_reply_to_a_security_incident_from_staff_outside_the_response_team_is_a_new_incident(world):
    incident = world.incident(category=world.security_category)
    assert incident.is_security
    row = take(message(sender=world.people[2].email, subject=f"[{incident.reference}]", body="Anything?"))
    assert row.incident != incident
    assert not incident.events.filter(kind=Kind.NOTE).exists()


def test_a_reply_to_a_closed_incident_is_a_new_incident_that_follows_it(world):
    incident = resolved(world, world.incident())
    services.incident_close(actor=world.people[3], incident=incident)
    row = take(message(subject=f"Re: [{incident.reference}]", body="Broken again"))
    assert row.outcome == "created"
    assert row.incident.follows == incident
    assert row.incident.events.get(kind=Kind.REGISTERED).data["follows"] == incident.reference


def test_a_reply_that_is_all_quote_is_ignored(world):
    incident = world.incident()
    row = take(message(subject=f"Re: [{incident.reference}]", body="> quoted only\n"))
    assert (row.state, row.reason) == ("ignored", mail.EMPTY_REPLY)
    assert not incident.events.filter(kind=Kind.COMMENT).exists()


# --- loops, bounces, floods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender, headers",
    [
        ("rita@example.com", {"Auto-Submitted": "auto-replied"}),
        ("rita@example.com", {"Precedence": "bulk"}),
        ("rita@example.com", {"Precedence": "junk"}),
        ("rita@example.com", {"Precedence": "list"}),
        ("rita@example.com", {"X-Autoreply": "yes"}),
        ("rita@example.com", {"Return-Path": "<>"}),
        ("MAILER-DAEMON@mx.example.com", {}),
        ("postmaster@example.com", {}),
        ("firebreak@localhost", {}),
    ],
)
def test_auto_replies_bounces_and_loops_never_create_or_reopen(world, sender, headers):
    incident = resolved(world, world.incident())
    row = take(message(sender=sender, subject=f"Out of office: [{incident.reference}]", headers=headers))
    incident.refresh_from_db()
    assert row.state == "ignored" and row.reason
    assert (Incident.objects.count(), incident.status) == (1, Status.RESOLVED)
    assert not incident.events.filter(kind__in=[Kind.COMMENT, Kind.REOPENED]).exists()


def test_auto_submitted_no_is_a_person_writing(world):
    assert take(message(headers={"Auto-Submitted": "no"})).outcome == "created"


def test_a_delivery_report_is_a_bounce(world):
    raw = (b"From: someone@example.com\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nCould not deliver\r\n--b--\r\n")  # fmt: skip
    row = take(raw)
    assert (row.state, row.reason) == ("ignored", mail.REPORT)


def test_the_desks_own_address_and_message_ids_are_loops(world, settings):
    settings.MAIL_DESK_ADDRESS = "Desk@Example.com"
    assert take(message(sender="desk@example.com")).state == "ignored"
    incident = world.incident()
    our_id = sent_message_id(incident, "someone@example.com")
    row = take(message(sender="someone@example.com", message_id=our_id))
    assert (row.state, row.reason) == ("ignored", mail.OWN_MESSAGE.format(message_id=our_id))
    assert Incident.objects.count() == 1


def test_a_sender_over_the_rate_is_ignored(world, settings):
    settings.MAIL_SENDER_RATE = 3
    rows = [take(message(subject=f"Message {n}")) for n in range(5)]
    assert [row.state for row in rows] == ["done", "done", "done", "ignored", "ignored"]
    assert rows[3].reason == mail.FLOOD.format(rate=3, sender="rita@example.com")
    assert Incident.objects.count() == 3
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert take(message(subject="Later")).state == "done"


# --- refusals and bad messages ------------------------------------------------------------------


def test_a_sender_the_policy_refuses_is_recorded_as_failed(world):
    row = take(message(sender=world.owner.email))  # a stakeholder may not register
    assert (row.state, row.incident) == ("failed", None)
    assert "register" in row.reason
    assert not Incident.objects.exists()


def test_a_deactivated_account_is_refused_not_replaced(world):
    Person.objects.filter(pk=world.reporter.pk).update(is_active=False)
    row = take(message())
    assert (row.state, row.reason) == ("failed", mail.INACTIVE.format(sender="rita@example.com"))
    assert Person.objects.filter(email="rita@example.com").count() == 1
    assert not Incident.objects.exists()


def test_no_category_for_new_mail_fails_with_the_reason(world, settings):
    settings.MAIL_CATEGORY = "nowhere"
    row = take(message(sender="fresh@customer.example"))
    assert row.state == "failed" and "nowhere" in row.reason
    assert not Incident.objects.exists()
    assert not Person.objects.filter(email="fresh@customer.example").exists()  # rolled back with it


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", mail.EMPTY),
        (b"  \r\n", mail.EMPTY),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", mail.BINARY),
        (b"just some words, no headers at all", mail.NO_HEADERS),
        (b"Subject: who?\r\n\r\nbody", mail.NO_FROM),
        (b"From: not an address\r\nSubject: x\r\n\r\nbody", mail.BAD_FROM),
        (b"From: a@example.com, b@example.com\r\nSubject: x\r\n\r\nbody", mail.BAD_FROM),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_created(world, raw, reason):
    people = Person.objects.count()
    with pytest.raises(mail.BadMessage) as refused:
        take(raw)
    assert refused.value.message == reason
    assert (Incident.objects.count(), InboundMessage.objects.count(), Person.objects.count()) == (0, 0, people)


def test_a_message_over_the_limit_is_refused(world, settings):
    settings.MAIL_MAX_BYTES = 2048
    with pytest.raises(mail.BadMessage) as refused:
        take(message(body="x" * 4000))
    assert refused.value.too_large
    assert not InboundMessage.objects.exists()


def test_a_failure_halfway_leaves_nothing_behind(world, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(services, "incident_register", broken)
    with pytest.raises(RuntimeError):
        take(message(sender="half@customer.example"))
    assert not InboundMessage.objects.exists()
    assert not Person.objects.filter(email="half@customer.example").exists()


# --- attachments ------------------------------------------------------------------------------


def test_attachments_go_through_attachment_add_and_a_refused_one_is_noted(world, media):
    raw = message(attachments=[("screen.png", "image/png", PNG), ("invoice.pdf", "application/pdf", b"MZ\x90\x00binary")])
    row = take(raw)
    incident = row.incident
    attachment = Attachment.objects.get(incident=incident)
    assert (attachment.name, attachment.content_type, attachment.channel, attachment.uploaded_by) == (
        "screen.png", "image/png", "email", world.reporter,
    )  # fmt: skip
    refused = incident.events.get(kind=Kind.ATTACHMENT_REFUSED)
    assert refused.data["name"] == "invoice.pdf" and refused.data["reason"]
    assert not refused.is_public
    assert row.state == "done"


def test_a_reply_with_only_an_attachment_is_a_comment(world, media):
    incident = world.incident()
    take(message(subject=f"[{incident.reference}]", body="> old\n", attachments=[("shot.png", "image/png", PNG)]))
    assert incident.events.get(kind=Kind.COMMENT).data["body"] == "(Attachments only.)"
    assert incident.attachments.count() == 1
