from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from rest_framework.routers import SimpleRouter

from incidents.api import IncidentViewSet, OutboxViewSet
from incidents.api_inbound import AlertmanagerWebhook, EmailEndpoint, EventsEndpoint
from incidents.api_maintenance import MaintenanceViewSet
from incidents.views import unsubscribe
from procedures.api import (
    CalendarViewSet,
    CategoryViewSet,
    LabelRuleViewSet,
    PriorityMatrixView,
    ProcedureViewSet,
    ServiceViewSet,
)
from reporting.api import DashboardView, MetricsView, ReviewViewSet
from reporting.views import dashboard_page
from servicedesk import health
from servicedesk.schema import SchemaDocsView, SchemaView
from skills.api import TeamViewSet
from skills.views import LoginView

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("categories", CategoryViewSet)
router.register("services", ServiceViewSet)
router.register("teams", TeamViewSet)
router.register("calendars", CalendarViewSet)
router.register("label-rules", LabelRuleViewSet)
router.register("procedures", ProcedureViewSet)
router.register("outbox", OutboxViewSet, basename="outbox")
router.register("reviews", ReviewViewSet, basename="review")
router.register("maintenance", MaintenanceViewSet, basename="maintenance")

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/metrics/", MetricsView.as_view(), name="metrics"),
    path("api/v1/priority-matrix/", PriorityMatrixView.as_view(), name="priority-matrix"),
    path("api/v1/dashboard/", DashboardView.as_view(), name="dashboard-api"),
    path("api/v1/integrations/alertmanager/", AlertmanagerWebhook.as_view(), name="alertmanager-webhook"),
    path("api/v1/events/", EventsEndpoint.as_view(), name="events"),
    path("api/v1/integrations/email/", EmailEndpoint.as_view(), name="email-in"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SchemaDocsView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
    path("status/", include("incidents.status_urls")),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("skills.urls")),
    path("reports/", include("reporting.urls")),
    path("procedures/", include("procedures.urls")),
    path("dashboard/", dashboard_page, name="dashboard"),
    path("", include("incidents.urls")),
]

# Under /api/ these answer JSON in the API's error shape; elsewhere the pages' templates.
handler400 = "servicedesk.api.bad_request"
handler403 = "servicedesk.api.permission_denied"
handler404 = "servicedesk.api.page_not_found"
handler500 = "servicedesk.api.server_error"
