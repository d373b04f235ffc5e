import logging
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render, resolve_url
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme

# Room for the form around an attached file in a multipart body.
MULTIPART_OVERHEAD = 64 * 1024


def is_attachment_upload(request):
    return request.method == "POST" and request.path.endswith("/attachments/") and (
        request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data")
    )


logger = logging.getLogger(__name__)
DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_UNAVAILABLE = "The database is not answering just now; nothing was changed. Try again shortly."


def database_unavailable(request, exc):
    """The answer to a request the database could not serve (down, refusing, silent, or a
    statement over its timeout): 503 with Retry-After, JSON on the API, a page that tries
    again by itself in the browser. Made without the session or the person, which would
    need the database too."""
    logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exc)
    retry_after = settings.DB_RETRY_AFTER
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
    else:
        page = render_to_string("503.html", {"retry_after": retry_after, "path": request.get_full_path()})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(retry_after)
    return response


class DatabaseUnavailableMiddleware:
    """A view (or its template) that meets a database outage answers 503, not 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable(request, exception)
        return None


# Email in takes one raw message of up to MAIL_MAX_BYTES.
EMAIL_IN_PATH = "/api/v1/integrations/email/"


class BodySizeLimitMiddleware:
    """Answer 413 for a request body over MAX_JSON_BODY_BYTES before anything reads it; a
    file sent to an `/attachments/` URL may be ATTACHMENT_MAX_BYTES (and its form), a
    message sent to email in MAIL_MAX_BYTES."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
        if is_attachment_upload(request):
            if length > settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD:
                return _file_too_large(request)
        elif request.path == EMAIL_IN_PATH:
            if length > settings.MAIL_MAX_BYTES:
                return JsonResponse(
                    {"detail": f"The message is too large: the limit is {settings.MAIL_MAX_BYTES} bytes (MAIL_MAX_BYTES)."},
                    status=413,
                )
        elif length > settings.MAX_JSON_BODY_BYTES:
            return JsonResponse(
                {"detail": f"Request body too large: the limit is {settings.MAX_JSON_BODY_BYTES} bytes."},
                status=413,
            )
        return self.get_response(request)


def _file_too_large(request):
    """The API's JSON; a page for the browser, or for htmx the message where the upload
    form shows its errors."""
    from incidents.uploads import size_text

    message = f"The file is too large: the limit is {size_text(settings.ATTACHMENT_MAX_BYTES)} per file."
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=413)
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(f'<p class="message message-error">{escape(message)}</p>', status=413)
        response["HX-Retarget"] = "#attach-error"
        response["HX-Reswap"] = "innerHTML"
        return response
    back = request.path.removesuffix("attachments/")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/"
    return render(request, "413.html", {"message": message, "back": back}, status=413)


class NulCharacter(SuspiciousOperation):
    """A NUL character in the address: no page or endpoint takes one (PostgreSQL's text
    cannot hold it)."""


class NulCharacterMiddleware:
    """A NUL character in the path or the query is a 400 (JSON under /api/), before a view
    hands it to PostgreSQL, whose text cannot hold one (a 500 otherwise)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.GET
        if "\x00" in request.path or any("\x00" in key or any("\x00" in v for v in query.getlist(key)) for key in query):
            raise NulCharacter("The address may not contain the NUL character (%00).")
        return self.get_response(request)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer that does not say it is public: incident
    pages, the API, the admin, the account pages. What a person sees about incidents must
    never be kept by a browser or a proxy (a shared computer, the back button after logging
    out). The public status pages mark themselves `public, max-age=30` and keep it; static
    files never get here (WhiteNoise answers them before)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        directives = {part.split("=", 1)[0].strip().lower() for part in response.get("Cache-Control", "").split(",")}
        if "public" not in directives:
            patch_cache_control(response, private=True, no_store=True)
        return response


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
