"""Live pages: htmx-style polling answered with ETag / 304.

A page that opts in (see docs/live.md) is polled every few seconds by static/js/live.js
with the header `X-Firebreak-Live: 1` and the last ETag in `If-None-Match`. The view
computes a version stamp of what the page shows from one index lookup; when it has not
changed the answer is an empty 304 before anything is rendered."""

import hashlib
from urllib.parse import urlsplit

from django.http import HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers

from incidents.models import Incident

LIVE_HEADER = "X-Firebreak-Live"
# On an htmx answer that draws the page's live regions again (an action on the incident, a
# filter on the queue): the ETag a poll of the page would get for what the answer shows, so
# the page's next poll is a 304 unless something changed since (static/js/live.js).
DRAWN_HEADER = "X-Firebreak-Live-ETag"
# Bump when the live templates change shape, so old pages fetch the new markup once.
MARKUP_VERSION = "1"


def is_live_poll(request):
    return request.method == "GET" and request.headers.get(LIVE_HEADER) == "1"


def latest_change():
    """The newest `updated_at` of any incident: one backwards step on its index. Every
    service and every sweep that changes an incident moves it, and a new incident starts
    with it, so it changes whenever any list or count could."""
    return Incident.objects.order_by("-updated_at").values_list("updated_at", flat=True).first()


def etag_for(request, *parts, page=None):
    """A weak validator of what this person sees at this address (or at `page`, a path
    with its query), made of `parts`."""
    user = getattr(request, "user", None)
    address = request.get_full_path() if page is None else page
    raw = "|".join(str(part) for part in (MARKUP_VERSION, getattr(user, "pk", None), address, *parts))
    return '"' + hashlib.blake2b(raw.encode(), digest_size=12).hexdigest() + '"'


def not_modified(request, etag):
    """A 304 for a live poll whose page has not changed, else None."""
    if is_live_poll(request) and request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    return None


def current_page(request):
    """The address (path and query) of the page an htmx request was sent from, as its polls
    ask for it (HX-Current-URL without the scheme, host and fragment); None without one."""
    current = request.headers.get("HX-Current-URL")
    if not current:
        return None
    address = urlsplit(current)
    return address.path + ("?" + address.query if address.query else "")


def drawn(response, etag):
    """Tell the page which version of its live regions an htmx answer draws."""
    if etag:
        response[DRAWN_HEADER] = etag
    return response


def mark(response, etag):
    """Give a rendered page its validator; caches must always ask again. An htmx answer
    that replaces the regions at this address (a filter pushed into it) also says so."""
    response["ETag"] = etag
    drawn(response, etag)
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, [LIVE_HEADER, "HX-Request"])
    return response
