from django.http import HttpRequest

from clinic.tenancy.middleware import memberships_of
from clinic.tenancy.roles import PERMISSIONS


def clinic(request: HttpRequest) -> dict:
    """The current clinic, the person's other clinics (switcher) and what their roles allow (navigation)."""
    membership = getattr(request, "membership", None)
    memberships = memberships_of(request)  # already read by the middleware: no second query
    can = {}
    if membership is not None:
        can = {perm.name.lower(): membership.allows(perm) for perm in PERMISSIONS}
    return {
        "clinic": getattr(request, "clinic", None),
        "membership": membership,
        "my_memberships": memberships,
        "can": can,
    }
