from django.urls import path

from procedures import views

app_name = "procedures"
urlpatterns = [
    path("", views.procedure_list, name="list"),
    path("<slug:slug>/", views.procedure_detail, name="detail"),
    path("<slug:slug>/edit/", views.procedure_edit, name="edit"),
    path("<slug:slug>/publish/", views.procedure_publish, name="publish"),
    path("<slug:slug>/dry-run/", views.procedure_dry_run, name="dry_run"),
]
