from django.urls import path

from incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("incidents/new/", views.register, name="register"),
    path("incidents/<str:reference>/", views.detail, name="detail"),
    path("incidents/<str:reference>/<str:action>/", views.act, name="act"),
]
