"""From a monitor's labels to an incident's category, service, impact and urgency."""

from django.conf import settings
from django.core.exceptions import ValidationError

from procedures.models import Category, Service
from procedures.selectors import label_rules

# Common severity words of Prometheus, Grafana and Zabbix, when no rule sets impact or
# urgency: 1 high .. 3 low.
SEVERITY = {
    "critical": 1, "disaster": 1, "page": 1, "high": 1, "emergency": 1, "alert": 1,
    "error": 2, "major": 2, "average": 2, "warning": 2, "medium": 2,
    "minor": 3, "low": 3, "info": 3, "information": 3, "informational": 3, "not_classified": 3,
}  # fmt: skip
DEFAULT_LEVEL = 2
NO_DEFAULT_CATEGORY = (
    "No label rule gives a category, and the default category {slug!r} (INBOUND_DEFAULT_CATEGORY) does not exist."
)


class LabelMapper:
    """Read the rules and the small lookup tables once, then map any number of alerts."""

    def __init__(self):
        self.rules = label_rules()
        self.categories = {c.slug: c for c in Category.objects.all()}
        self.services = {s.slug: s for s in Service.objects.all()}

    def map(self, labels):
        found = {}
        for rule in self.rules:
            if not rule.matches(labels):
                continue
            for field in ("category", "service", "impact", "urgency"):
                value = getattr(rule, field)
                if value is not None and field not in found:
                    found[field] = value
        found.setdefault("category", self.categories.get(labels.get("category", "")))
        found.setdefault("service", self.services.get(labels.get("service", "")))
        level = SEVERITY.get(str(labels.get("severity", "")).lower(), DEFAULT_LEVEL)
        found.setdefault("impact", level)
        found.setdefault("urgency", level)
        if found["category"] is None:
            slug = settings.INBOUND_DEFAULT_CATEGORY
            found["category"] = self.categories.get(slug)
            if found["category"] is None:
                raise ValidationError({"category": [NO_DEFAULT_CATEGORY.format(slug=slug)]})
        return found
