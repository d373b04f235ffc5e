"""Thin Celery shells for reporting's periodic work."""

from celery import shared_task
from django.utils import timezone

from reporting import rollups, services


@shared_task(name="reporting.tasks.open_reviews", ignore_result=True)
def open_reviews():
    return services.reviews_open_for_resolved_majors(now=timezone.now())


@shared_task(name="reporting.tasks.remind_review_actions", ignore_result=True)
def remind_review_actions():
    return services.review_actions_remind(now=timezone.now())


@shared_task(name="reporting.tasks.refresh_metrics_rollups", ignore_result=True)
def refresh_metrics_rollups():
    return rollups.refresh(now=timezone.now())
