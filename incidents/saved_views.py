"""Saved views: a person's named queue filters, optionally shared with one of their teams.
Every change goes through these functions; `saved_views_for` is the one read."""

from django.db import transaction
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone

from incidents import errors
from incidents.models import SavedView
from skills.errors import Forbidden

# The query names a saved view may keep (the queue's filters and its sort), never a cursor.
QUERY_NAMES = (
    "q", "status", "team", "priority", "assignee", "category", "service", "breached", "warning", "major",
    "created_after", "created_before", "resolved_after", "resolved_before", "sort",
)  # fmt: skip


def clean_query(raw):
    """The query string with only the queue's own names and non-empty values, in a stable order."""
    given = QueryDict(raw or "")
    kept = QueryDict(mutable=True)
    for name in QUERY_NAMES:
        for value in given.getlist(name):
            if value.strip():
                kept.appendlist(name, value.strip())
    return kept.urlencode()


@transaction.atomic
def saved_view_save(*, actor, name, query, team=None, now=None):
    """Save the queue's filters under `name` (replacing the person's view of that name),
    shared with `team` if given: only a team the person belongs to."""
    now = now or timezone.now()
    if team is not None and not actor.teams.filter(pk=team.pk).exists():
        raise Forbidden(errors.NOT_YOUR_TEAM.format(team=team.slug))
    view, _ = SavedView.objects.select_for_update().get_or_create(
        owner=actor, name=name, defaults={"created_at": now}
    )
    view.query, view.team = clean_query(query), team
    view.save(update_fields=["query", "team"])
    return view


@transaction.atomic
def saved_view_delete(*, actor, view):
    view = SavedView.objects.select_for_update().get(pk=view.pk)
    if view.owner_id != actor.pk:
        raise Forbidden(errors.NOT_YOUR_VIEW.format(name=view.name))
    view.delete()


def saved_views_for(person):
    """The person's own views and those shared with their teams, by name."""
    if not getattr(person, "is_authenticated", False):
        return SavedView.objects.none()
    teams = person.teams.values("pk")
    return (
        SavedView.objects.filter(Q(owner=person) | Q(team__in=teams))
        .select_related("owner", "team")
        .order_by("name", "pk")
    )
