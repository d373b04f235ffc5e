"""Typed readers for settings that come from the environment.

Every reader names the variable in its error, so a bad value stops start-up with a
message an operator can act on.
"""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name, default):
    value = os.environ.get(name)
    return default if value is None else value.strip()


def env_str(name, default=""):
    return _raw(name, default)


def env_bool(name, default=False):
    value = _raw(name, None)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {value!r}.")


def env_int(name, default, *, minimum=None, maximum=None):
    value = _raw(name, None)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {number}.")
    return number


def env_list(name, default=()):
    value = _raw(name, None)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name, default, *, schemes):
    value = _raw(name, default)
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(
            f"{name} must be a URL with one of the schemes {allowed}, not {value!r}."
        )
    if parts.scheme in {"http", "https"} and not parts.netloc:
        raise ImproperlyConfigured(f"{name} must include a host, not {value!r}.")
    return value
