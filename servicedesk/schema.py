"""The OpenAPI document at /api/schema/ and its rendering at /api/docs/ (the split view: its
script is a file of its own, for the Content-Security-Policy; the operations' schemas:
servicedesk.openapi)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from skills.api_views import JSONErrors


class SchemaView(JSONErrors, SpectacularAPIView):
    pass


class SchemaDocsView(JSONErrors, SpectacularSwaggerSplitView):
    pass
