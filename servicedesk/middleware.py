from django.conf import settings
from django.http import JsonResponse


class BodySizeLimitMiddleware:
    """Answer 413 for a request body over MAX_JSON_BODY_BYTES before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
        if length > settings.MAX_JSON_BODY_BYTES:
            return JsonResponse(
                {"detail": f"Request body too large: the limit is {settings.MAX_JSON_BODY_BYTES} bytes."},
                status=413,
            )
        return self.get_response(request)
