"""Errors the envforge server reports, with its error code."""


class EnvforgeError(Exception):
    """An error reply: ``code`` is the server's code (e.g. ``VALIDATION_ERROR``)."""

    def __init__(self, message, code="ERROR", data=None, status=None):
        super().__init__(f"{code}: {message}")
        self.message = message
        self.code = code
        self.data = data or {}
        self.status = status


class CapacityReached(EnvforgeError):
    """The server holds its maximum of live episodes; retry later."""


def error_from(data, status=None):
    """The exception for an error payload ``{message|detail, code, ...}``."""
    data = data if isinstance(data, dict) else {"message": str(data)}
    message = data.get("message") or data.get("detail") or "unknown error"
    code = data.get("code") or "ERROR"
    cls = CapacityReached if code == "CAPACITY_REACHED" else EnvforgeError
    return cls(message, code=code, data=data, status=status)
