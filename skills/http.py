"""Shared view helpers for the browser pages of every app."""

from functools import wraps

from django.shortcuts import render


def post_only(back):
    """Like Django's `require_POST`, but a GET (a bookmarked or reloaded action URL) gets a
    page that says what the address is for and links to `back(**kwargs)` (the page the
    action belongs to), instead of a blank 405."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
                return view(request, *args, **kwargs)
            response = render(request, "405.html", {"back_url": back(**kwargs)}, status=405)
            response["Allow"] = "POST"
            return response

        return wrapper

    return decorator
