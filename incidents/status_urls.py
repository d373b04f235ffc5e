from django.urls import path

from incidents import status_views

app_name = "status"
urlpatterns = [
    path("", status_views.page, name="page"),
    path("incidents/<slug:public_id>/", status_views.incident, name="incident"),
    path("summary.json", status_views.summary, name="summary"),
    path("feed.atom", status_views.feed, name="feed"),
    path("subscribe/", status_views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", status_views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", status_views.unsubscribe, name="unsubscribe"),
]
