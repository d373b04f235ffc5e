from datetime import UTC

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident, Status
from incidents.selectors import incidents_at_risk_q, incidents_search
from procedures import config_cache
from procedures.models import Category, Service
from skills.models import Person, Team


class _TrueFalse(forms.NullBooleanField):
    """`true` or `false` (any case), or absent: anything else is an error, where Django's
    NullBooleanField would quietly read it as "no filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value):
        pass


class _UTCDateTime(filters.fields.IsoDateTimeField):
    """An ISO 8601 time, compared in UTC: PostgreSQL takes offsets up to 15:59 only, and
    ISO 8601 allows up to 23:59."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Out of range.", code="invalid") from None


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = _UTCDateTime


class BooleanFilter(filters.BooleanFilter):
    field_class = _TrueFalse

    def __init__(self, *args, **kwargs):
        # django-filter's BooleanWidget reads anything but true/false as "not given".
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class InFilter(filters.MultipleChoiceFilter):
    """Any of the values, as one `IN (...)` in a fixed order: PostgreSQL matches it against
    the partial indexes of open incidents (`status IN (open ones)`) where django-filter's
    chain of ORs, in a set's order, left the planner to combine bitmaps. No joins can
    duplicate rows here, so no DISTINCT (which would defeat the indexes)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": sorted(set(value))})


class _ConfigSlugField(forms.CharField):
    """A category, service or team by slug, from the configuration cache (no query): an
    unknown slug is refused as Django's ModelChoiceField refuses it."""

    def __init__(self, *, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        found = config_cache.by_slug(self.model, value)
        if found is None:
            raise forms.ValidationError(
                forms.ModelChoiceField.default_error_messages["invalid_choice"], code="invalid_choice"
            )
        return found


class ConfigSlugFilter(filters.Filter):
    field_class = _ConfigSlugField

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.extra["model"] = model


class IncidentFilter(filters.FilterSet):
    status = InFilter(choices=Status.choices)
    priority = InFilter(choices=[(p, str(p)) for p in range(1, 6)])
    # Slugs are looked up first (an unknown one is a 400; categories, services and teams in
    # the configuration cache), so the list filters on the foreign key and its indexes.
    team = ConfigSlugFilter(Team)
    assignee = filters.ModelChoiceFilter(queryset=Person.objects.all(), to_field_name="username")
    category = ConfigSlugFilter(Category)
    service = ConfigSlugFilter(Service)
    is_major = BooleanFilter()
    major = BooleanFilter(field_name="is_major")  # the queue page's name for is_major
    unassigned = BooleanFilter(field_name="assignee", lookup_expr="isnull")
    breached = BooleanFilter(method="filter_breached")
    warning = BooleanFilter(method="filter_warning")
    q = filters.CharFilter(method="filter_q", max_length=200)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    resolved_after = IsoDateTimeFilter(field_name="resolved_at", lookup_expr="gte")
    resolved_before = IsoDateTimeFilter(field_name="resolved_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = []

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor

    def filter_breached(self, queryset, name, value):
        breached = Q(response_breached=True) | Q(resolution_breached=True)
        return queryset.filter(breached if value else ~breached)

    def filter_warning(self, queryset, name, value):
        at_risk = incidents_at_risk_q(timezone.now())
        return queryset.filter(at_risk if value else ~at_risk)

    def filter_q(self, queryset, name, value):
        # The person asking (the API's request, or `actor=`) picks the search's index.
        actor = self.actor or getattr(self.request, "user", None)
        return incidents_search(queryset, value, actor=actor)

