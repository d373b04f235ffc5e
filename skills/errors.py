"""Domain errors raised by services; the API and the views map them to HTTP."""


class DomainError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class Conflict(DomainError):
    """The object's state does not allow the change (HTTP 409)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class Forbidden(DomainError):
    """The actor may see the object but not do this (HTTP 403)."""


class TooLarge(DomainError):
    """Over a size limit (HTTP 413)."""
