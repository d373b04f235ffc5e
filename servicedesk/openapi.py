"""The OpenAPI document's operations (DEFAULT_SCHEMA_CLASS).

Every operation documents the errors it can answer, with their bodies, by rules that look
at the operation itself (one place, no view lists them): an operation that needs a login
may answer 401 and 403, one with a path parameter 404, one with a request body or query
parameters 400, one with a body 413 and 415, a write 409, a throttled view 429, and every
operation 503 while the database is unavailable."""

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import relations
from rest_framework.permissions import AllowAny

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

_DETAIL = {
    "type": "object",
    "description": "What went wrong, in a sentence.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_FIELD_ERRORS = {
    "type": "object",
    "description": "Field errors: each field named in the input (nested fields as objects, or "
    "lists by position) with its messages; `non_field_errors` for the input as a whole.",
    "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "object"}]},
    "minProperties": 1,
}
_CONFLICT = {
    "type": "object",
    "description": "A change that the current state does not allow; `status` is the state now, "
    "where it has one.",
    "properties": {"detail": {"type": "string"}, "status": {"type": "string"}},
    "required": ["detail"],
}
COMPONENTS = {
    "Error": _DETAIL,
    "ValidationError": {"anyOf": [_DETAIL, _FIELD_ERRORS]},
    "ConflictError": _CONFLICT,
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}


def _nullable_source(field):
    """Whether a read-only related field reads a foreign key that may be null (on the way to
    it, too): DRF answers null there, so the schema must say so."""
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    if model is None:
        return False
    for attr in field.source_attrs:
        try:
            model_field = model._meta.get_field(attr)
        except Exception:  # noqa: BLE001 - a property or method, not a field: no answer
            return False
        if getattr(model_field, "null", False):
            return True
        model = getattr(model_field, "related_model", None)
        if model is None:
            return False
    return False


class AutoSchema(openapi.AutoSchema):
    # An action on one object (a viewset's detail=True) that answers a list, such as an
    # incident's timeline, is neither paginated nor filtered: only list routes are.
    def _get_paginator(self):
        return None if getattr(self.view, "detail", False) else super()._get_paginator()

    def get_filter_backends(self):
        return [] if getattr(self.view, "detail", False) else super().get_filter_backends()

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "unknown_fields", True) is False:
            schema["additionalProperties"] = False
        return schema

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if isinstance(field, relations.RelatedField) and field.read_only and _nullable_source(field):
            meta["nullable"] = True
        return meta

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not path.startswith("/api/"):
            return operation
        for name, schema in COMPONENTS.items():
            registry.register_on_missing(
                ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
            )
        # django-filter reads an empty filter as "not given".
        filters = self._filter_names()
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in filters and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        responses = operation["responses"]
        for code, answer in self.error_responses(operation).items():
            responses.setdefault(code, answer)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _filter_names(self):
        filterset = getattr(self.view, "filterset_class", None)
        if filterset is None or not self.get_filter_backends():
            return set()
        return set(filterset.base_filters)

    def error_responses(self, operation):
        """{status code: response} for the errors this operation can answer."""
        parameters = operation.get("parameters", [])
        # A write's body is parsed (as JSON, within the size limit) whether or not the
        # operation takes any field.
        has_body = "requestBody" in operation or self.method in {"POST", "PUT", "PATCH"}
        needs_login = not any(isinstance(p, AllowAny) for p in self.view.get_permissions())
        errors = {}
        if has_body or any(p["in"] == "query" for p in parameters):
            errors["400"] = ("The input is not valid: malformed JSON, or a field or parameter "
                             "with a wrong value.", "ValidationError")
        if needs_login:
            errors["401"] = ("No credentials, or a bad or revoked token.", "Error")
            errors["403"] = ("Not allowed: `detail` names the action refused (a read-only token "
                             "never writes).", "Error")
        if has_body or any(p["in"] == "path" for p in parameters):
            errors["404"] = ("Nothing at this address, or named in the body, that you may see.", "Error")
        if self.method in WRITE_METHODS:
            errors["409"] = ("The change is not allowed in the current state.", "ConflictError")
        if has_body:
            errors["413"] = ("The body is too large.", "Error")
            errors["415"] = ("The body's type is not one this operation takes (JSON, unless it says otherwise).", "Error")
        if self.view.get_throttles():
            errors["429"] = ("Too many requests: throttled.", "Error")
        errors["503"] = ("The database is unavailable: try again later.", "Error")
        answers = {}
        for code, (description, component) in errors.items():
            answer = {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
            }
            if code in ("429", "503"):
                answer["headers"] = _RETRY_AFTER
            answers[code] = answer
        return answers
