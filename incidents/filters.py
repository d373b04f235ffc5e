import django_filters as filters
from django.db.models import Q

from incidents.models import Incident, Status
from incidents.selectors import incidents_search


class IncidentFilter(filters.FilterSet):
    # No joins can duplicate rows here, so no DISTINCT (which would defeat the indexes).
    status = filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(choices=[(p, str(p)) for p in range(1, 6)], distinct=False)
    team = filters.CharFilter(field_name="team__slug")
    assignee = filters.CharFilter(field_name="assignee__username")
    category = filters.CharFilter(field_name="category__slug")
    service = filters.CharFilter(field_name="service__slug")
    is_major = filters.BooleanFilter()
    breached = filters.BooleanFilter(method="filter_breached")
    q = filters.CharFilter(method="filter_q", max_length=200)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = []

    def filter_breached(self, queryset, name, value):
        breached = Q(response_breached=True) | Q(resolution_breached=True)
        return queryset.filter(breached if value else ~breached)

    def filter_q(self, queryset, name, value):
        return incidents_search(queryset, value)
