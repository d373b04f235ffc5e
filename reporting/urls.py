from django.urls import path

from reporting import views

app_name = "reporting"
urlpatterns = [
    path("", views.metrics_page, name="metrics"),
    path("process/", views.process_page, name="process"),
    path("reviews/", views.reviews_page, name="reviews"),
    path("reviews/new/", views.review_request, name="review_request"),
    path("reviews/<int:pk>/", views.review_page, name="review"),
    path("reviews/<int:pk>/actions/<int:action_id>/done/", views.review_action_done, name="action_done"),
    path("reviews/<int:pk>/<str:what>/", views.review_change, name="change"),
]
