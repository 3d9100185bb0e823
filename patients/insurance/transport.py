"""Which eligibility transport the clinic's 270s go through: settings.ELIGIBILITY_TRANSPORT.

The class is built with no arguments unless it is the file-drop transport, which gets the outbox and inbox
folders from settings. Any class with `send(text, *, trace)` and `poll(trace)` works (see
patients.eligibility.transport.EligibilityTransport).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

from patients.eligibility.transport import EligibilityTransport, FileDropTransport

DEFAULT_TRANSPORT = "patients.eligibility.transport.FileDropTransport"


def get_transport() -> EligibilityTransport:
    cls = import_string(getattr(settings, "ELIGIBILITY_TRANSPORT", DEFAULT_TRANSPORT))
    if issubclass(cls, FileDropTransport):
        return cls(Path(settings.ELIGIBILITY_OUTBOX), Path(settings.ELIGIBILITY_INBOX))
    transport = cls()
    if not isinstance(transport, EligibilityTransport):
        raise TypeError(f"{cls!r} has no send(text, *, trace) / poll(trace): not an eligibility transport")
    return transport
