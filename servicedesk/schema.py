"""The OpenAPI document at /api/schema/ and its rendering at /api/docs/ (the split view: its
script is a file of its own, for the Content-Security-Policy)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class _JSONErrors:
    """For the schema and its HTML rendering: an error (a bad token, a wrong method) is
    rendered as JSON like the rest of the API, not in the view's own format."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(_JSONErrors, SpectacularAPIView):
    pass


class SchemaDocsView(_JSONErrors, SpectacularSwaggerSplitView):
    pass
