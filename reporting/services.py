"""Reviews: opened for every resolved major incident (and on demand), written up and
closed by a level 5 lead, with actions whose owners are reminded when they fall due.
Each change: one transaction, the review locked, the policy asked, its state guarded."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from incidents import notify
from incidents.models import FanOut, Incident, TimelineEvent
from reporting.models import Review, ReviewAction, day_start
from skills.errors import Conflict, Forbidden
from skills.models import Person, Role
from skills.policy import Action, can, can_see_incident, may_write, staff_who_may_see, why_not

REVIEW_WITHIN = timedelta(days=5)
BATCH = 200
MAX_CAUSES = 20
WRITABLE = ("impact", "causes", "went_well", "went_badly")

ALREADY_REVIEWED = "{reference} already has a review."
CLOSED = "This review is closed: it can no longer change."
OUTCOME_NEEDED = "Write the outcome the service owner and stakeholders will receive."
OWNER_NOT_STAFF = "{username} is not an active member of staff."
OWNER_CANNOT_SEE = "{username} may not see this incident, so cannot own its actions."
DUE_IN_PAST = "The due date may not be in the past."
ACTION_DONE = "This action is already done."
NOT_YOURS = "You may not complete this action: it belongs to {owner}, or needs SFIA level 5."
BAD_CAUSES = "Give the contributing factors as a list of short texts (at most 20, 500 characters each)."


def _require(actor, action, obj=None):
    if not can(actor, action, obj):
        raise Forbidden(why_not(actor, action, obj))


def _lock(review):
    return Review.objects.select_for_update(of=("self",)).select_related("incident__service__owner").get(pk=review.pk)


def _guard_open(review):
    if review.completed_at is not None:
        raise Conflict(CLOSED, status="closed")


def _timeline(incident, actor, kind, now, **data):
    TimelineEvent.objects.create(incident=incident, actor=actor, kind=kind, at=now, data=data)


@transaction.atomic
def review_request(*, actor, incident, now=None):
    """Open a review of any incident on demand (level 5); the requester leads it."""
    now = now or timezone.now()
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    _require(actor, Action.LEAD_REVIEW, incident)
    if Review.objects.filter(incident=incident).exists():
        raise Conflict(ALREADY_REVIEWED.format(reference=incident.reference), status="open")
    review = Review.objects.create(incident=incident, lead=actor, opened_at=now, due_at=now + REVIEW_WITHIN)
    _timeline(incident, actor, TimelineEvent.Kind.REVIEW_OPENED, now, review=review.pk)
    return review


def _clean_causes(causes):
    if not isinstance(causes, list) or len(causes) > MAX_CAUSES:
        raise ValidationError({"causes": [BAD_CAUSES]})
    cleaned = []
    for cause in causes:
        if not isinstance(cause, str) or len(cause) > 500:
            raise ValidationError({"causes": [BAD_CAUSES]})
        if cause.strip():
            cleaned.append(cause.strip())
    return cleaned


@transaction.atomic
def review_update(*, actor, review, now=None, **changes):
    """Record the impact, contributing factors, what went well and what went badly."""
    unknown = set(changes) - set(WRITABLE)
    if unknown:
        raise ValueError(f"not writable: {', '.join(sorted(unknown))}")
    review = _lock(review)
    _require(actor, Action.LEAD_REVIEW, review.incident)
    _guard_open(review)
    if "causes" in changes:
        changes["causes"] = _clean_causes(changes["causes"])
    for name, value in changes.items():
        setattr(review, name, value)
    if review.lead_id is None:
        review.lead = actor
        changes["lead"] = actor
    review.save(update_fields=sorted(changes))
    return review


def _validate_owner(owner, incident):
    if owner.role != Role.STAFF or not owner.is_active:
        raise ValidationError({"owner": [OWNER_NOT_STAFF.format(username=owner.username)]})
    if not can_see_incident(owner, incident):
        raise ValidationError({"owner": [OWNER_CANNOT_SEE.format(username=owner.username)]})


def due_moment(due_on):
    """When an action due on `due_on` falls due: the start of that day, in the desk's zone."""
    return day_start(due_on)


@transaction.atomic
def review_add_action(*, actor, review, title, owner, due_on, now=None):
    now = now or timezone.now()
    review = _lock(review)
    _require(actor, Action.LEAD_REVIEW, review.incident)
    _guard_open(review)
    _validate_owner(owner, review.incident)
    if due_on < timezone.localdate(now):
        raise ValidationError({"due_on": [DUE_IN_PAST]})
    return ReviewAction.objects.create(
        review=review, title=title, owner=owner, due_on=due_on, due_at=due_moment(due_on), created_at=now
    )


@transaction.atomic
def review_action_done(*, actor, action, now=None):
    """Its owner, or a level 5 lead, marks an action done (also after the review closed:
    actions outlive the meeting)."""
    now = now or timezone.now()
    action = ReviewAction.objects.select_for_update(of=("self",)).select_related("review__incident", "owner").get(pk=action.pk)
    incident = action.review.incident
    if not may_write(actor):
        raise Forbidden(why_not(actor, Action.LEAD_REVIEW, incident))
    if not can(actor, Action.VIEW, incident) or (actor.pk != action.owner_id and not can(actor, Action.LEAD_REVIEW, incident)):
        raise Forbidden(NOT_YOURS.format(owner=action.owner.username))
    if action.done_at is not None:
        raise Conflict(ACTION_DONE, status="done")
    action.done_at, action.done_by = now, actor
    action.save(update_fields=["done_at", "done_by"])
    return action


def outcome_recipients(incident):
    """The service's owner and the stakeholders who were told about the incident: the
    reporter and the watchers, and the service's subscribers who were in the audience of
    one of its announcements (a major incident's declaration, updates and resolution:
    subscribed by the last of them, and still subscribed; not someone who subscribed
    since). Nobody outside the response team for a security incident."""
    told_until = FanOut.objects.filter(incident=incident, subscribers=True).aggregate(last=Max("as_of"))["last"]
    return [
        *notify.service_stakeholders(incident, subscribers=told_until is not None, subscribed_by=told_until),
        *notify.reporter_and_watchers(incident),
    ]


@transaction.atomic
def review_close(*, actor, review, outcome, now=None):
    """Close the review and send its outcome to the service owner and the stakeholders."""
    now = now or timezone.now()
    review = _lock(review)
    incident = review.incident
    _require(actor, Action.LEAD_REVIEW, incident)
    _guard_open(review)
    if not (outcome or "").strip():
        raise ValidationError({"outcome": [OUTCOME_NEEDED]})
    review.outcome, review.completed_at, review.closed_by = outcome.strip(), now, actor
    review.save(update_fields=["outcome", "completed_at", "closed_by"])
    actions = list(review.actions.select_related("owner").order_by("due_at", "id"))
    body = review.outcome
    if actions:
        body += "\n\nActions:\n" + "\n".join(f"- {a.title} ({a.owner.username}, due {a.due_on:%Y-%m-%d})" for a in actions)
    sent = notify.queue_email(
        incident, outcome_recipients(incident), headline=f"Review outcome: {incident.title}", body=body,
        key=f"review-closed:{review.pk}", now=now,
    )  # fmt: skip
    _timeline(incident, actor, TimelineEvent.Kind.REVIEW_CLOSED, now, review=review.pk, recipients=sent)
    return review


def reviews_open_for_resolved_majors(*, now, batch=BATCH):
    """Every resolved major incident gets its mandatory review, led by its communications
    lead, and `review_opened` on its timeline. Reporting reads what the incidents layer
    recorded (a major incident with a resolution time) rather than being called by it. The
    incidents are claimed with SKIP LOCKED (as `review_request` locks its incident), so any
    number of workers share the work; the unique incident key settles the rest (a review
    requested on demand just before the claim). Returns how many were opened."""
    with transaction.atomic():
        due = list(
            Incident.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(is_major=True, resolved_at__isnull=False, review__isnull=True)
            .only("pk", "comms_lead_id", "resolved_at")
            .order_by("resolved_at")[:batch]
        )
        Review.objects.bulk_create(
            [Review(incident=i, lead_id=i.comms_lead_id, opened_at=now, due_at=now + REVIEW_WITHIN) for i in due],
            ignore_conflicts=True,
        )
        # PostgreSQL gives no ids back past a conflict: read the ones this run opened.
        created = list(Review.objects.filter(incident__in=[i.pk for i in due], opened_at=now).only("pk", "incident_id"))
        TimelineEvent.objects.bulk_create(
            [
                TimelineEvent(incident_id=review.incident_id, actor=None, kind=TimelineEvent.Kind.REVIEW_OPENED, at=now,
                              data={"review": review.pk})
                for review in created
            ]
        )  # fmt: skip
    return len(created)


def _may_hear(owner_ids, *, is_security):
    """The owners among `owner_ids` who may still see such an incident (active staff, and
    for a security incident its response team or level 5): one query."""
    people = Person.objects.filter(pk__in=owner_ids)
    return set(staff_who_may_see(people, is_security=is_security).values_list("pk", flat=True))


def review_actions_remind(*, now, batch=BATCH):
    """Email the owner of every open review action that has fallen due, once. Claims the
    actions with SKIP LOCKED, so any number of workers share the work. An owner who may no
    longer see the incident (deactivated, or gone from the security team) is not mailed:
    the action stays on the overdue list under their name. Returns how many were due."""
    with transaction.atomic():
        due = list(
            ReviewAction.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(done_at__isnull=True, reminded_at__isnull=True, due_at__lte=now)
            .select_related("owner", "review__incident__service")
            .order_by("due_at", "id")[:batch]
        )
        owners = {action.owner_id for action in due}
        may_hear = {
            flag: _may_hear(owners, is_security=flag) for flag in {action.review.incident.is_security for action in due}
        }
        for action in due:
            incident = action.review.incident
            owner = action.owner
            told = owner.email and owner.pk in may_hear[incident.is_security]
            recipients = [notify.Recipient(owner.email)] if told else []
            notify.queue_email(
                incident, recipients, headline=f"Review action due: {action.title}",
                body=f"This action from the review of {incident.reference} is due on {action.due_on:%Y-%m-%d}.\n\n"
                     f"Mark it done on the review: {settings.SITE_URL}{reverse('reporting:review', args=[action.review_id])}",
                key=f"review-action:{action.pk}", now=now,
            )  # fmt: skip
            action.reminded_at = now
        ReviewAction.objects.bulk_update(due, ["reminded_at"])
    return len(due)
