"""The public status page: no login, no session, no JavaScript. Every answer is public
and cacheable for 30 seconds, with an ETag so a reader that asks again gets a 304."""

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, set_response_etag
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from incidents import notify, status, subscriptions
from incidents.models import StatusSubscriber
from procedures.models import Service

MAX_AGE = 30
# The computed pages live in Django's cache under the version stamp (incidents.status):
# a change gives a new stamp, so it shows at once; the minute in the stamp bounds an
# entry's use anyway, this only lets the old ones go.
CACHE_SECONDS = 120
# Bump when the pages change shape, so entries cached by the old code are not served.
MARKUP_VERSION = "3"


def _public(request, response):
    """Cache-Control: public, max-age=30 and an ETag of the body; a matching
    If-None-Match answers 304 without the body."""
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    set_response_etag(response)
    return get_conditional_response(request, etag=response["ETag"], response=response)


def _render(template, context, status=200):
    """Render without the request: no context processor runs, so the session (and the
    signed-in person) is never touched and nothing adds `Vary: Cookie`. These pages are the
    same for everyone."""
    return HttpResponse(render_to_string(template, context), status=status)


def _page_url(incident):
    return settings.SITE_URL + reverse("status:incident", args=[incident.public_id])


# The newest entry per page in this process too: an unchanged page then costs the stamp's
# query alone, not a read of a few hundred kilobytes from the shared cache.
_LOCAL = {}


def _cached(request, name, build):
    """The page `name` as built by `build(now)` -> (body, content type), computed once per
    version stamp and shared by every process through the cache: an unchanged page costs
    the stamp's query (and, the first time in a process, a cache read)."""
    now = timezone.now()
    stamp, settled = status.version_stamp(now)
    key = f"status:{MARKUP_VERSION}:{name}:{stamp}"
    local = _LOCAL.get(name)
    if settled and local is not None and local[0] == key:
        body, content_type = local[1]
    else:
        found = cache.get(key) if settled else None
        if found is None:
            found = build(now)
            if settled:
                cache.set(key, found, CACHE_SECONDS)
        if settled:
            _LOCAL[name] = (key, found)
        body, content_type = found
    return _public(request, HttpResponse(body, content_type=content_type))


def _page(now):
    return render_to_string("status/page.html", status.overview(now)), "text/html; charset=utf-8"


@require_GET
def page(request):
    return _cached(request, "page", _page)


@require_GET
def incident(request, public_id):
    found = status.public_incident(public_id)
    if found is None:
        raise Http404("No such public incident.")
    return _public(request, _render("status/incident.html", {"incident": found}))


def _maintenance_url(window):
    return settings.SITE_URL + reverse("status:page") + f"#maintenance-{window.public_id}"


def _iso(moment):
    return moment.isoformat() if moment else None


@require_GET
def summary(request):
    """The shape many status-page readers understand: page, components, incidents with
    their updates (newest first)."""
    return _cached(request, "summary", _summary)


def _summary(now):
    data = status.overview(now)
    incidents = []
    for item in data["open"]:
        incidents.append({
            "id": item.public_id, "name": item.title, "status": "investigating", "impact": item.state,
            "created_at": _iso(item.started_at), "updated_at": _iso(item.updates[0][0] if item.updates else item.started_at),
            "resolved_at": None, "shortlink": _page_url(item), "components": [item.service_slug],
            "incident_updates": [{"body": body, "created_at": _iso(at), "status": "update"} for at, body in item.updates],
        })  # fmt: skip
    body = {
        "page": {"name": "Firebreak status", "url": settings.SITE_URL + reverse("status:page"), "updated_at": _iso(_last_change(data))},
        "status": {"indicator": data["overall"], "description": data["overall_label"]},
        "components": [
            {"id": row.slug, "name": row.name, "status": row.state, "uptime_90_days": row.uptime_percent}
            for row in data["services"]
        ],
        "incidents": incidents,
        "scheduled_maintenances": [
            {
                "id": window.public_id, "name": window.title, "status": window.status, "impact": "maintenance",
                "created_at": _iso(window.created_at), "updated_at": _iso(window.updated_at),
                "scheduled_for": _iso(window.starts_at), "scheduled_until": _iso(window.ends_at),
                "shortlink": _maintenance_url(window), "components": window.service_slugs,
                "incident_updates": [{"body": window.description, "created_at": _iso(window.updated_at), "status": window.status}],
            }
            for window in data["maintenance"]
        ],
    }  # fmt: skip
    response = JsonResponse(body)
    return response.content, response["Content-Type"]


def _last_change(data):
    """The newest public moment on the page (so the same page has the same ETag)."""
    moments = [m for item in [*data["open"], *data["recent"]] for m in (item.started_at, item.ended_at, *(at for at, _ in item.updates)) if m]
    moments += [window.updated_at for window in data["maintenance"]]
    return max(moments, default=None)


@require_GET
def feed(request):
    """An Atom entry per public update (and per public incident without one yet)."""
    return _cached(request, "feed", _feed)


def _feed(now):
    data = status.overview(now)
    atom = Atom1Feed(
        title="Firebreak status", link=settings.SITE_URL + reverse("status:page"),
        description="Public incidents and their updates", language="en",
        feed_url=settings.SITE_URL + reverse("status:feed"),
    )  # fmt: skip
    entries = []
    for item in [*data["open"], *data["recent"]]:
        link = _page_url(item)
        if item.ended_at:
            entries.append((item.ended_at, f"Resolved: {item.title}", "This incident is resolved.", link, f"{link}#resolved"))
        for at, body in item.updates:
            entries.append((at, item.title, body, link, f"{link}#{at.timestamp():.6f}"))
        entries.append((item.started_at, item.title, f"We are investigating a problem with {item.service}.", link, link))
    for window in data["maintenance"]:
        link = _maintenance_url(window)
        when = f"{window.starts_at:%a %d %b %Y %H:%M} to {window.ends_at:%a %d %b %Y %H:%M} UTC"
        kind = "Maintenance in progress" if window.in_progress else "Scheduled maintenance"
        text = f"{window.description}\n\n{when}. Services: {', '.join(window.services)}.".strip()
        entries.append((window.updated_at, f"{kind}: {window.title}", text, link, f"{link}:{window.status}:{window.updated_at.timestamp():.6f}"))
    for at, title, body, link, unique in sorted(entries, key=lambda e: e[0], reverse=True)[:50]:
        atom.add_item(title=title, link=link, description=body, unique_id=unique, updateddate=at, pubdate=at)
    response = HttpResponse(content_type="application/atom+xml; charset=utf-8")
    atom.write(response, "utf-8")
    return response.content, response["Content-Type"]


# --- subscriptions: no session, so no CSRF token (the public pages stay cacheable); the
# double opt-in and the throttles keep the form from mailing anyone who did not ask.


def _public_services():
    return list(Service.objects.filter(is_public=True).order_by("name"))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def subscribe(request):
    services = _public_services()
    context = {"services": services, "errors": {}, "email": "", "chosen": set()}
    if request.method == "GET":
        return _render("status/subscribe.html", context)
    chosen = {slug for slug in request.POST.getlist("services")}
    context["email"], context["chosen"] = request.POST.get("email", "")[:254], chosen
    by_slug = {service.slug: service for service in services}
    unknown = chosen - set(by_slug)
    try:
        if unknown:
            raise ValidationError({"services": [subscriptions.NOT_PUBLIC]})
        subscriptions.status_subscribe_request(
            email=context["email"], services=[by_slug[slug] for slug in sorted(chosen)],
            client=request.META.get("REMOTE_ADDR", "unknown"),
        )  # fmt: skip
    except ValidationError as error:
        context["errors"] = error.message_dict
        return _render("status/subscribe.html", context, status=400)
    except subscriptions.Throttled as error:
        context["errors"] = {"email": [error.message]}
        return _render("status/subscribe.html", context, status=429)
    return _render("status/subscribe.html", {**context, "sent": True})


@require_http_methods(["GET", "POST"])
@csrf_exempt
def confirm(request, token):
    """GET asks (mail scanners follow links), POST confirms."""
    if request.method == "GET":
        return _render("status/confirm.html", {"token": token})
    try:
        subscriber = subscriptions.status_subscribe_confirm(token=token)
    except ValidationError as error:
        return _render("status/confirm.html", {"error": error.message_dict["token"][0]}, status=400)
    return _render("status/confirm.html", {"subscriber": subscriber, "done": True})


@csrf_exempt  # one-click unsubscribe (RFC 8058) posts from the mail client, without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        subscriber_id = signing.loads(token, salt=notify.STATUS_UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise Http404("This unsubscribe link is not valid.") from None
    subscriber = StatusSubscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        raise Http404("This unsubscribe link is not valid.")
    done = False
    if request.method == "POST":
        subscriptions.status_unsubscribe(subscriber_id=subscriber.pk)
        done = True
    return _render("status/unsubscribe.html", {"subscriber": subscriber, "done": done})
