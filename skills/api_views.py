"""Shared pieces of the API views of every app."""

from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class JSONErrors:
    """For a view that renders its answers in another format (CSV, YAML, an HTML page): an
    error, and the OPTIONS description, are still rendered as JSON (errors in the API's
    error shape)."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and (response.status_code >= 400 or request.method == "OPTIONS"):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)
