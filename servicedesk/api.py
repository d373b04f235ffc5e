"""Cross-cutting API pieces: the JSON parser with size and depth limits, the exception
handler that maps domain errors to HTTP, and the error answers of the API's addresses that
no API view handles (unmatched URLs, server errors): JSON, never the HTML pages."""

import json

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from servicedesk.middleware import DATABASE_ERRORS, NulCharacter, database_unavailable
from skills.errors import Conflict, Forbidden, TooLarge


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class LimitedJSONParser(JSONParser):
    """JSON only, and never more than MAX_JSON_BODY_BYTES (chunked bodies included)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.MAX_JSON_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body too large: the limit is {limit} bytes.")
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw.decode(parser_context and parser_context.get("encoding") or "utf-8"))
        except RecursionError:
            data = None  # deeper than the parser goes: far deeper than the limit below
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"Malformed JSON: {exc}") from None
        else:
            problem = json_problem(data, settings.MAX_JSON_DEPTH)
            if problem is None:
                return data
            raise exceptions.ParseError(problem)
        raise exceptions.ParseError(JSON_TOO_DEEP.format(limit=settings.MAX_JSON_DEPTH))


JSON_TOO_DEEP = "JSON nested too deeply: at most {limit} levels of arrays and objects."
JSON_NUL = "JSON strings may not contain the NUL character (\\u0000)."


def json_problem(data, limit):
    """Why parsed JSON `data` is refused, or None: arrays and objects nested deeper than
    `limit`, or a NUL character in a string (PostgreSQL's text cannot hold one). Walked
    without recursion, so no depth can exhaust the stack."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return JSON_NUL
            continue
        if not isinstance(node, (dict, list)):
            continue
        if depth > limit:
            return JSON_TOO_DEEP.format(limit=limit)
        if isinstance(node, dict):
            stack.extend((key, depth) for key in node)
            stack.extend((child, depth + 1) for child in node.values())
        else:
            stack.extend((child, depth + 1) for child in node)
    return None


def exception_handler(exc, context):
    """DRF's handler, with the domain's refusals (409, 403) and Django's validation errors
    (400, in DRF's field-error shape) and database outages (503) mapped too."""
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(context["request"], exc)
    if isinstance(exc, Conflict):
        body = {"detail": exc.message}
        if exc.status is not None:
            body["status"] = exc.status
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Forbidden):
        return Response({"detail": exc.message}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, TooLarge):
        return Response({"detail": exc.message}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {field: [m for e in errors for m in e.messages] for field, errors in exc.error_dict.items()}
        else:
            detail = {"non_field_errors": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)


# --- errors outside the API views ---------------------------------------------------------
# Django answers these itself (no URL matched, an exception no view handled, a suspicious
# request): for an address under /api/ the answer is JSON in the API's shape.


def _is_api(request):
    return request.path.startswith("/api/")


def _json_error(detail, status_code):
    return JsonResponse({"detail": detail}, status=status_code)


def bad_request(request, exception):
    if _is_api(request):
        detail = str(exception) if isinstance(exception, NulCharacter) else "Bad request."
        return _json_error(detail, 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return _json_error(str(exception) or "You do not have permission to perform this action.", 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _is_api(request):
        return _json_error(f"Not found: no API endpoint at {request.path}.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return _json_error("Server error: the request was not completed. It has been logged.", 500)
    return defaults.server_error(request)
