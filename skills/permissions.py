from rest_framework.permissions import SAFE_METHODS, BasePermission

from skills.policy import can, why_not


class TokenScope(BasePermission):
    """A read-only API token reads and never writes, whatever the endpoint: any unsafe
    method is refused before the body is even parsed."""

    message = "You may not write with this API token: it is read-only."

    def has_permission(self, request, view):
        person = request.user
        return request.method in SAFE_METHODS or getattr(person, "token_scope", None) != "read"


class Policy(BasePermission):
    """Ask `skills.policy.can` for the view's `policy` entry: {view action: Action}.
    Services ask again for what depends on the object or the change."""

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        action = view.policy.get(view.action)
        if action is None:
            return True
        if not can(request.user, action):
            self.message = why_not(request.user, action)
            return False
        return True
