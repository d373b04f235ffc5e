from django.urls import path

from incidents import requesters, views

app_name = "incidents"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("my/", requesters.mine, name="mine"),
    path("my/new/", requesters.report, name="report"),
    path("my/<str:reference>/", requesters.incident, name="my_incident"),
    path("my/<str:reference>/reply/", requesters.reply, name="my_reply"),
    path("my/<str:reference>/confirm/", requesters.confirm, name="my_confirm"),
    path("my/<str:reference>/attachments/", requesters.attach, name="my_attach"),
    path("queue/bulk/", views.bulk, name="bulk"),
    path("queue/views/", views.saved_view_create, name="saved_view_create"),
    path("queue/views/<int:view_id>/delete/", views.saved_view_remove, name="saved_view_delete"),
    path("incidents/new/", views.register, name="register"),
    path("incidents/new/similar/", views.similar, name="similar"),
    path("incidents/new/callers/", views.callers, name="callers"),
    path("incidents/<str:reference>/", views.detail, name="detail"),
    path("incidents/<str:reference>/tasks/<int:position>/done/", views.task_done, name="task_done"),
    path("incidents/<str:reference>/deadlines/<int:deadline_id>/met/", views.deadline_met, name="deadline_met"),
    path("incidents/<str:reference>/watch/", views.watch, name="watch"),
    path("incidents/<str:reference>/compose/", views.compose, name="compose"),
    path("incidents/<str:reference>/affected/", views.affected, name="affected"),
    path("incidents/<str:reference>/edit/", views.edit, name="edit"),
    path("incidents/<str:reference>/attachments/", views.attach, name="attach"),
    path("incidents/<str:reference>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("incidents/<str:reference>/<str:action>/", views.act, name="act"),
]
