"""One exception tree. The CLI turns any EnatoolError into a one-line message (with its
hint) and a non-zero exit; anything else is a bug and keeps its traceback."""

from __future__ import annotations


class EnatoolError(Exception):
    """Base of every error a user can cause or fix. ``hint`` says how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def one_line(self) -> str:
        msg = str(self)
        return f"{msg} (hint: {self.hint})" if self.hint else msg


class UsageError(EnatoolError):
    """Bad option value or argument."""

    exit_code = 2


class InterfaceError(EnatoolError):
    """Unknown interface, or one we must not touch (default route without --force)."""

    exit_code = 2


class CapabilityError(EnatoolError):
    """The machine lacks something (root, BPF, XDP mode, headers, bcc)."""

    exit_code = 3


class DeviceError(EnatoolError):
    """The device (real or software) refused or failed a request."""


class AdminError(DeviceError):
    """An admin command completed with a non-success status."""

    def __init__(self, message: str, status: int, hint: str | None = None):
        super().__init__(message, hint)
        self.status = status


class AdminTimeout(DeviceError):
    """An admin command got no completion within the admin timeout."""


class ResetError(DeviceError):
    """The device did not go through the reset handshake."""
