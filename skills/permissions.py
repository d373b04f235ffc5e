from rest_framework.permissions import BasePermission

from skills.policy import can, why_not


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
