"""Every scoped read of incidents. `access_incident` is the one way to fetch an incident
for a person: it answers Http404 for what they may not see."""

from django.db import connection
from django.db.models import BooleanField, FloatField, Q, prefetch_related_objects
from django.db.models.expressions import RawSQL
from django.db.models.query import ModelIterable
from django.http import Http404

from incidents.models import Attachment, Incident, TimelineEvent
from procedures import config_cache
from procedures.models import Service
from skills.models import Role
from skills.policy import incident_visibility, level_of

# People are joined; the small tables (category, service, team, procedure version) come
# from the per-process configuration cache (procedures.config_cache), so a page's only
# query is a two-join plan that PostgreSQL plans in well under a millisecond.
LIST_RELATED = ("assignee", "reporter")


class WithConfig(ModelIterable):
    """Model instances with their category, service, team and procedure version set from
    the configuration cache instead of read with them."""

    def __iter__(self):
        attach = config_cache.Attacher(self.queryset.model)
        for instance in super().__iter__():
            yield attach(instance)


def with_config(queryset):
    """`queryset`, its incidents handed out with their configuration rows attached."""
    queryset = queryset.all()
    queryset._iterable_class = WithConfig
    return queryset


def incidents_visible_to(actor):
    """The incidents `actor` may see, by the policy's one visibility rule."""
    return with_config(Incident.objects.select_related(*LIST_RELATED).filter(incident_visibility(actor).q()))


def access_incident(actor, reference, *, queryset=None):
    pk = Incident.pk_from_reference(reference)
    if pk is None:
        raise Http404("No such incident.")
    try:
        return (queryset if queryset is not None else incidents_visible_to(actor)).get(pk=pk)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None


def incident_as_registered(incident):
    """The incident `incident_register` just wrote, ready for the detail serializer without
    reading it back: its category, service, team, procedure version and people are the
    objects the service used. Its checklist and deadlines are read only when its procedure
    has any (a new incident has exactly the ones its procedure lists)."""
    version = incident.procedure_version
    if version.checklist or version.deadlines:
        prefetch_related_objects([incident], "tasks__done_by", "deadlines__met_by")
    else:
        incident._prefetched_objects_cache = {"tasks": incident.tasks.none(), "deadlines": incident.deadlines.none()}
    return incident


BREACHED_Q = Q(response_breached=True) | Q(resolution_breached=True)


def incidents_counts_by_team_and_status(queryset):
    """(team slug, team name, status, count) of `queryset` (scoped and filtered by the
    caller), one row per team and status: one grouped count. The queue asks it for open
    incidents (`status` in the open ones, given to its filter before the search's probe):
    an index-only scan of a covering index of open incidents (`incident_open_*`,
    models.py) while the filters stay on the columns it carries."""
    from django.db.models import Count

    return list(queryset.order_by().values_list("team__slug", "team__name", "status").annotate(n=Count("*")))


def incidents_at_risk_q(now):
    """At risk: open and running (not on hold), no target missed yet, and a clock past its
    warning point (the resolution clock, or the response clock until someone responds)."""
    from incidents.models import ACTIVE_STATUSES

    warning = Q(resolve_warn_at__lte=now) | Q(acknowledged_at__isnull=True, response_warn_at__lte=now)
    return Q(status__in=ACTIVE_STATUSES, response_breached=False, resolution_breached=False) & warning


# What a live poll of the incident page reads (Incident, TimelineEvent; tested): the page's
# version and the columns the visibility rule looks at, without building an ORM query
# (that was most of an unchanged poll's time).
VERSION_SQL = (
    "SELECT i.updated_at, (SELECT MAX(e.id) FROM incidents_timelineevent e WHERE e.incident_id = i.id), "
    "i.is_security, i.reporter_id, i.created_by_id, i.service_id FROM incidents_incident i WHERE i.id = %s"
)
# The visibility rule's paths VERSION_SQL answers (service__owner_id through the
# configuration cache's service).
VERSION_PATHS = frozenset({"is_security", "reporter_id", "created_by_id", "service__owner_id"})


def incident_version(actor, reference):
    """(updated_at, newest timeline event id) of an incident the person may see: what its
    page shows changes only when one of them does. One query by primary key, the person's
    access decided by the policy's visibility rule on the columns it names; Http404
    otherwise."""
    from types import SimpleNamespace

    pk = Incident.pk_from_reference(reference)
    visibility = incident_visibility(actor)
    paths = {path for clause in visibility.clauses for path, _ in clause}
    if pk is None:
        raise Http404("No such incident.")
    if not paths <= VERSION_PATHS:  # a rule this query does not answer: ask the database
        from django.db.models import Max

        row = (
            Incident.objects.filter(visibility.q(), pk=pk)
            .annotate(last_event=Max("events__id"))
            .values_list("updated_at", "last_event")
            .first()
        )
        if row is None:
            raise Http404("No such incident.")
        return row
    with connection.cursor() as cursor:
        cursor.execute(VERSION_SQL, [pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such incident.")
    updated_at, last_event, is_security, reporter_id, created_by_id, service_id = row
    # Only a stakeholder's rule looks at the service (its owner): nobody else's poll asks
    # the configuration cache, which would compare its stamp (a query).
    service = config_cache.get(Service, service_id) if "service__owner_id" in paths else None
    seen = SimpleNamespace(
        is_security=bool(is_security), reporter_id=reporter_id, created_by_id=created_by_id, service=service
    )
    if not visibility.allows(seen):
        raise Http404("No such incident.")
    if connection.vendor == "sqlite" and isinstance(updated_at, str):  # raw rows are not converted there
        updated_at = Incident._meta.get_field("updated_at").to_python(updated_at)
    return updated_at, last_event


# A search that matches at most this many incidents (that the person could see) is
# answered by their ids (see incidents_search).
SEARCH_FEW = 500


def incidents_search(queryset, text, *, actor=None):
    """Text search on title and description (PostgreSQL full text on an index), or the
    reference itself.

    On PostgreSQL the matches among `queryset` (scoped, and filtered so far) are first
    counted up to SEARCH_FEW off the GIN indexes (on open incidents alone when the
    queryset asks for open ones). When there are no more, the search becomes `id IN
    (those ids)`: the page, its sort and its counts read a few hundred rows by primary
    key. Otherwise the word is common there, and a page walks its sort's index and finds
    its rows early. PostgreSQL alone cannot tell the two apart for a word it guesses is
    common but which the person cannot see (one found only in security incidents): it
    walked every incident newest first looking for 26 that never came (a second at a
    million). For an `actor` outside the security wall the search reads the vector of the
    incidents they may see (migration 0018's indexes), so such a word is no match at all.
    """
    from skills.policy import is_security_responder

    text = text.strip()
    pk = Incident.pk_from_reference(text.upper())
    if pk is not None:
        return queryset.filter(pk=pk)
    if not text:
        return queryset
    if connection.vendor != "postgresql":
        return queryset.filter(Q(title__icontains=text) | Q(description__icontains=text))
    if actor is not None and actor.is_authenticated and not is_security_responder(actor):
        # The vector of the incidents outside the wall (NULL for security incidents), as
        # migration 0018 indexes it.
        matches = RawSQL(
            "(CASE WHEN incidents_incident.is_security THEN NULL::tsvector ELSE incidents_incident.search_vector END)"
            " @@ websearch_to_tsquery('english'::regconfig, %s)",
            (text,),
            output_field=BooleanField(),
        )
    else:
        # The stored tsvector column of migration 0003, on its GIN index.
        matches = RawSQL(
            "incidents_incident.search_vector @@ websearch_to_tsquery('english'::regconfig, %s)",
            (text,),
            output_field=BooleanField(),
        )
    matching = queryset.filter(matches)
    few = list(matching.order_by().values_list("pk", flat=True)[: SEARCH_FEW + 1])
    if len(few) <= SEARCH_FEW:
        return queryset.filter(pk__in=few)
    return matching


SIMILAR_WORDS = 8


def similar_open_incidents(actor, text, *, limit=5, exclude=None):
    """Open incidents the actor may see whose title or description shares words with
    `text`, best match first: PostgreSQL full text on the stored column's GIN index (any
    of the words), ranked; elsewhere a plain substring match."""
    import re

    from incidents.models import OPEN_Q

    words = [w for w in re.findall(r"\w+", text.lower()) if len(w) >= 3][:SIMILAR_WORDS]
    if not words:
        return []
    queryset = Incident.objects.filter(OPEN_Q).filter(incident_visibility(actor).q()).select_related("team")
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude.pk)
    if connection.vendor == "postgresql":
        query = " or ".join(words)
        matches = RawSQL(
            "incidents_incident.search_vector @@ websearch_to_tsquery('english'::regconfig, %s)",
            (query,),
            output_field=BooleanField(),
        )
        rank = RawSQL(
            "ts_rank(incidents_incident.search_vector, websearch_to_tsquery('english'::regconfig, %s))",
            (query,),
            output_field=FloatField(),
        )
        queryset = queryset.filter(matches).annotate(rank=rank).order_by("-rank", "-created_at")
    else:
        any_word = Q()
        for word in words:
            any_word |= Q(title__icontains=word) | Q(description__icontains=word)
        queryset = queryset.filter(any_word).order_by("-created_at")
    return list(queryset[:limit])


def timeline_for(actor, incident, *, newest_first=False):
    """Events oldest first (newest first for the page). People outside the staff see only
    the public ones."""
    order = ("-at", "-id") if newest_first else ("at", "id")
    events = TimelineEvent.objects.filter(incident=incident).select_related("actor").order_by(*order)
    if level_of(actor) is None:
        events = events.filter(is_public=True)
    return events


def open_mandatory_tasks(incident):
    """The checklist tasks that block closing."""
    return incident.tasks.filter(mandatory=True, done_at__isnull=True).order_by("position")


def comms_lead_candidates(incident):
    """Who may lead a major incident's communications: active staff the policy lets
    declare it (level 5 unless the procedure says otherwise), which includes seeing it."""
    from skills.models import Person
    from skills.policy import Action, can, required_level

    staff = Person.objects.filter(
        role=Role.STAFF, is_active=True, sfia_level__gte=required_level(Action.DECLARE_MAJOR, incident)
    ).order_by("username")
    return staff.filter(pk__in=[person.pk for person in staff if can(person, Action.DECLARE_MAJOR, incident)])


def delivery_progress(actor, incident):
    """Each announcement of the incident, newest first, with its messages queued, sent and
    failed; for the communications lead and whoever may read the outbox (level 4), else None."""
    from incidents import fanout
    from incidents.models import FanOut
    from skills.policy import Action, can

    if not (incident.comms_lead_id == actor.pk or can(actor, Action.VIEW_OUTBOX)):
        return None
    fanouts = list(FanOut.objects.filter(incident=incident).order_by("-created_at", "-pk")[:20])
    return fanout.progress(fanouts)


def attachments_for(actor, incident):
    """The incident's attachments the person may list, oldest first: the available ones
    for everyone who may see the incident; pending and rejected ones for staff and for
    whoever uploaded them. One query (the uploader joined)."""
    attachments = Attachment.objects.filter(incident=incident).select_related("uploaded_by").order_by("created_at", "id")
    if level_of(actor) is None:
        attachments = attachments.filter(Q(state=Attachment.State.AVAILABLE) | Q(uploaded_by=actor))
    return attachments


def access_attachment(actor, reference, attachment_id):
    """An available attachment of an incident the person may see; Http404 otherwise (a
    pending or rejected one is not served to anyone)."""
    incident = access_incident(actor, reference, queryset=Incident.objects.filter(incident_visibility(actor).q()))
    attachment = Attachment.objects.filter(
        incident=incident, pk=attachment_id, state=Attachment.State.AVAILABLE
    ).first()
    if attachment is None:
        raise Http404("No such attachment.")
    attachment.incident = incident
    return attachment
