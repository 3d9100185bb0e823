from django.http import HttpRequest

from clinic.tenancy.models import Membership
from clinic.tenancy.roles import PERMISSIONS


def clinic(request: HttpRequest) -> dict:
    """The current clinic, the person's other clinics (switcher) and what their roles allow (navigation)."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    memberships = []
    if user is not None and user.is_authenticated:
        memberships = list(Membership.objects.of(user))
    can = {}
    if membership is not None:
        can = {perm.name.lower(): membership.allows(perm) for perm in PERMISSIONS}
    return {
        "clinic": getattr(request, "clinic", None),
        "membership": membership,
        "my_memberships": memberships,
        "can": can,
    }
