"""Login throttling (django-axes, configured in settings: "Login throttling"): what a
locked-out login is answered, and which client address is counted."""

import math

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

LOCKED_OUT = (
    "Too many failed logins for this account or from this address. Try again in {minutes} minutes, "
    "or ask an administrator to unlock it."
)


def _minutes():
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def locked_out(request, original_response=None, credentials=None):
    """429 with a clear message: JSON for a client that asks for it (the API, scripts,
    htmx), the login page's look for a browser. No password was checked."""
    message = LOCKED_OUT.format(minutes=_minutes())
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    wants_json = (
        "application/json" in request.headers.get("Accept", "")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or request.content_type == "application/json"
    )
    if wants_json:
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = retry_after
    return response


def client_address(request):
    """The client's address: REMOTE_ADDR, or behind the TLS proxy (BEHIND_TLS_PROXY) the
    address that proxy appended to X-Forwarded-For (the rightmost: what the client sent
    before it cannot be trusted)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "")
