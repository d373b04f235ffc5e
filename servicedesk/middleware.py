from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


class BodySizeLimitMiddleware:
    """Answer 413 for a request body over MAX_JSON_BODY_BYTES before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
        if length > settings.MAX_JSON_BODY_BYTES:
            return JsonResponse(
                {"detail": f"Request body too large: the limit is {settings.MAX_JSON_BODY_BYTES} bytes."},
                status=413,
            )
        return self.get_response(request)


class HtmxLoginRedirectMiddleware:
    """An htmx request (or a live poll) whose session has expired must not swap the login
    page into the part of the page it updates. Instead of the redirect to the login, it
    answers with `HX-Redirect` to the login, with `next` the page the person was on (not
    the action's URL), so the whole page goes there; static/js/live.js keeps the drafts."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 302 or request.headers.get("HX-Request") != "true":
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        page = current.path or "/"
        if current.query:
            page += "?" + current.query
        if not url_has_allowed_host_and_scheme(page, allowed_hosts={request.get_host()}):
            page = "/"
        answer = HttpResponse(status=204)
        answer["HX-Redirect"] = f"{login}?{urlencode({'next': page})}"
        return answer
