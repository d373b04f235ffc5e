"""Keyset (cursor) pagination for lists of incidents and their neighbours: every page is
one index range scan on (ordering field, id), however deep."""

import base64
import binascii
import json
from datetime import UTC, datetime

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

# A cursor's id and integer values fit PostgreSQL's bigint.
_BIGINT = 2**63


def _is_int(value):
    return type(value) is int and -_BIGINT <= value < _BIGINT


def cursor_decode(raw, field):
    """(value, id, backwards) from a cursor made by `cursor_encode` for `field`, or None
    when there is none. ValueError for anything else: a cursor comes from the client, so
    each part must have the type `cursor_encode` gives it (an aware ISO 8601 time for the
    `*_at` fields, an integer for the others) before it reaches a query."""
    if not raw:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(raw.encode()).decode())
        value, pk, backwards = payload["v"], payload["id"], payload["b"]
        if payload["f"] != field:
            raise ValueError("cursor is for another ordering")
    except (KeyError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("invalid cursor") from exc
    if not _is_int(pk) or type(backwards) is not bool:
        raise ValueError("invalid cursor")
    if field.endswith("_at"):
        value = parse_datetime(value) if isinstance(value, str) else None
        if value is None or value.tzinfo is None:
            raise ValueError("invalid cursor: not a time with an offset")
        try:
            value = value.astimezone(UTC)  # PostgreSQL takes offsets up to 15:59 only
        except OverflowError as exc:
            raise ValueError("invalid cursor: out of range") from exc
    elif not _is_int(value):
        raise ValueError("invalid cursor: not an integer")
    return value, pk, backwards


def cursor_encode(field, obj, backwards=False):
    value = getattr(obj, field)
    if isinstance(value, datetime):
        value = value.isoformat()
    payload = json.dumps({"f": field, "v": value, "id": obj.pk, "b": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def keyset_rows(queryset, field, descending, cursor, size, *, rows_of=None):
    """One page of `queryset` ordered by (field, id), after `cursor` (from `cursor_decode`):
    one index range scan however deep. The API's pagination and the queue page share it.
    Returns (rows in order, whether more rows follow in the scan's direction).

    With `rows_of` (a queryset with the joins and prefetches the page draws) the page is
    found as ids first, then read by id from it: the scan reads only the index where a
    covering index carries every column filtered on (the queue's indexes of open
    incidents), instead of visiting the table for each row a filter then throws away."""
    backwards = bool(cursor and cursor[2])
    # Walking backwards reverses the scan, then the page is put back in order.
    scan_desc = descending != backwards
    if cursor is not None:
        value, pk, _ = cursor
        op = "lt" if scan_desc else "gt"
        queryset = queryset.filter(Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk}))
    order = [f"-{field}", "-pk"] if scan_desc else [field, "pk"]
    if rows_of is None:
        rows = list(queryset.order_by(*order)[: size + 1])
        has_more = len(rows) > size
        rows = rows[:size]
    else:
        ids = list(queryset.order_by(*order).values_list("pk", flat=True)[: size + 1])
        has_more = len(ids) > size
        by_id = rows_of.in_bulk(ids[:size])
        # (One gone or out of sight between the two reads is left out.)
        rows = [by_id[pk] for pk in ids[:size] if pk in by_id]
    if backwards:
        rows.reverse()
    return rows, has_more


class KeysetPagination(BasePagination):
    """Cursor pagination on (ordering field, id): every page is one index range scan,
    however deep. The view names the allowed orderings; `-` means descending."""

    page_size = 25
    max_page_size = 100
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise exceptions.ValidationError({"page_size": ["Must be a whole number."]}) from None
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {"page_size": [f"Must be between 1 and {self.max_page_size}."]}
            )
        return size

    def get_ordering(self, request, view):
        raw = request.query_params.get(self.ordering_query_param, view.default_ordering)
        name = raw.lstrip("-")
        if name not in view.ordering_fields:
            allowed = ", ".join(view.ordering_fields)
            raise exceptions.ValidationError({"ordering": [f"Must be one of {allowed} (prefix - to reverse)."]})
        return name, raw.startswith("-")

    def decode_cursor(self, request, field):
        try:
            return cursor_decode(request.query_params.get(self.cursor_query_param), field)
        except ValueError:
            raise exceptions.ValidationError({"cursor": ["Invalid cursor."]}) from None

    def encode_cursor(self, field, obj, backwards):
        return cursor_encode(field, obj, backwards)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size_value = self.get_page_size(request)
        field, descending = self.get_ordering(request, view)
        cursor = self.decode_cursor(request, field)
        backwards = bool(cursor and cursor[2])
        rows, has_more = keyset_rows(queryset, field, descending, cursor, self.page_size_value)
        self.field = field
        self.rows = rows
        self.has_next = has_more if not backwards else cursor is not None
        self.has_previous = (cursor is not None) if not backwards else has_more
        return rows

    def _link(self, obj, backwards):
        url = self.request.build_absolute_uri()
        url = remove_query_param(url, self.cursor_query_param)
        return replace_query_param(url, self.cursor_query_param, self.encode_cursor(self.field, obj, backwards))

    def get_paginated_response(self, data):
        next_link = self._link(self.rows[-1], False) if self.has_next and self.rows else None
        prev_link = self._link(self.rows[0], True) if self.has_previous and self.rows else None
        return Response({"next": next_link, "previous": prev_link, "results": data})

    def get_schema_operation_parameters(self, view):
        orderings = [f"{prefix}{name}" for name in view.ordering_fields for prefix in ("", "-")]
        return [
            {"name": self.cursor_query_param, "in": "query", "required": False, "schema": {"type": "string"},
             "description": "The `next` or `previous` link's cursor: another page of the same list."},
            {"name": self.page_size_query_param, "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
             "description": f"1 to {self.max_page_size}; {self.page_size} by default."},
            {"name": self.ordering_query_param, "in": "query", "required": False,
             "schema": {"type": "string", "enum": orderings},
             "description": f"`{view.default_ordering}` by default; `-` for descending."},
        ]  # fmt: skip

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }
