"""Thin Celery shells: take ids, call services."""

from celery import shared_task

from incidents import delivery


@shared_task(name="incidents.tasks.deliver_message")
def deliver_message(message_id):
    delivery.deliver(message_id)


@shared_task(name="incidents.tasks.sweep_outbox")
def sweep_outbox():
    return delivery.deliver_due()
