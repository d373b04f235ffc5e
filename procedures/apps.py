from django.apps import AppConfig


class ProceduresConfig(AppConfig):
    name = "procedures"

    def ready(self):
        from django.core.signals import request_finished, request_started

        from procedures import config_cache

        # Not business logic: tells the configuration cache where a request starts and
        # ends, so it compares its stamp once per request (servicedesk.celery: per task).
        request_started.connect(config_cache.begin, dispatch_uid="config_cache_begin")
        request_finished.connect(config_cache.end, dispatch_uid="config_cache_end")
