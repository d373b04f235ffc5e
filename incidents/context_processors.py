"""What every page's navigation shows: the person's saved views (one query, signed-in
only) and whether the dashboard is theirs to open (the policy's answer)."""

from django.utils.functional import SimpleLazyObject

from incidents.saved_views import saved_views_for
from skills.policy import Action, can


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        # Lazy: only pages that draw the navigation pay the query.
        "saved_views": SimpleLazyObject(lambda: list(saved_views_for(user))),
        "may_monitor_queues": can(user, Action.MONITOR_QUEUES),
    }
