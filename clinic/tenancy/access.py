"""Access checks for clinic views: the view names the permission, the role table decides."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from clinic.tenancy.roles import Perm


def _clinic_view(view: Callable, perm: Perm | None) -> Callable:
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        kwargs.pop("clinic_slug", None)  # the middleware already resolved it into request.clinic
        membership = getattr(request, "membership", None)
        if membership is None:
            raise Http404("No such clinic")
        if perm is not None and not membership.allows(perm):
            raise PermissionDenied(f"Your role does not allow {perm.value}")
        return view(request, *args, **kwargs)

    wrapped.required_perm = perm  # read by the role-matrix test (None: any member)
    return wrapped


def require_perm(perm: Perm) -> Callable:
    """Decorate a `/c/<clinic_slug>/` view. Non-members got 404 in the middleware; members without
    the permission get 403."""
    return lambda view: _clinic_view(view, perm)


def require_member(view: Callable) -> Callable:
    """Decorate a `/c/<clinic_slug>/` view that every member may open whatever their role (the clinic's
    "Today" page). Non-members got 404 in the middleware."""
    return _clinic_view(view, None)
