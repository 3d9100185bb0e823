"""The clinic admin's pages for API clients (tokens for other systems), under /c/<clinic>/admin/.

Thin: forms check shape, `api.services` and `patients.consent.services` decide.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api.forms import ApiClientForm
from api.models import ApiClient
from api.services import api_client_create, api_client_revoke
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm, role_labels
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.consent.forms import ApiClientDisclosureForm
from patients.consent.services import api_client_set_disclosure


def _client(request: HttpRequest, client_id: int) -> ApiClient:
    return get_object_or_404(ApiClient, pk=client_id, clinic=request.clinic)


@never_cache  # the page that shows a new token once must not be kept by the browser or a proxy
@require_perm(Perm.API_CLIENT_MANAGE)
@require_http_methods(["GET", "POST"])
def api_clients_view(request: HttpRequest) -> HttpResponse:
    form = ApiClientForm(request.POST or None)
    new_token = new_client = None
    if request.method == "POST" and form.is_valid():
        try:
            new_client, new_token = api_client_create(
                actor=request.user, name=form.cleaned_data["name"], roles=form.cleaned_data["roles"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            form = ApiClientForm()
    clients = list(
        ApiClient.objects.filter(clinic=request.clinic)
        .select_related("created_by", "recipient")
        .order_by("-created_at")
    )
    for client in clients:
        client.role_labels = role_labels(client.roles)
    context = {"form": form, "clients": clients, "new_token": new_token, "new_client": new_client}
    return render(request, "api/clients.html", context)


@require_perm(Perm.API_CLIENT_MANAGE)
@require_POST
def api_client_revoke_view(request: HttpRequest, client_id: int) -> HttpResponse:
    client = _client(request, client_id)
    api_client_revoke(actor=request.user, client=client)
    messages.success(request, f"The token of {client.name} was revoked; calls with it now fail.")
    return redirect(clinic_reverse("api-clients:list"))


@require_perm(Perm.API_CLIENT_MANAGE)
@require_http_methods(["GET", "POST"])
def api_client_disclosure_view(request: HttpRequest, api_client_id: int) -> HttpResponse:
    """Whether reads by this client are disclosures outside the clinic (Part 2), and to whom."""
    client = _client(request, api_client_id)
    form = ApiClientDisclosureForm(
        request.POST if request.method == "POST" else None,
        initial={
            "is_outside_system": "1" if client.is_outside_system else "0",
            "recipient": client.recipient_id,
            "disclosure_purpose": client.disclosure_purpose,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            api_client_set_disclosure(
                actor=request.user,
                client=client,
                is_outside_system=data["is_outside_system"],
                recipient=data["recipient"],
                purpose=data["disclosure_purpose"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Saved how reads by {client.name} are treated.")
            return redirect(clinic_reverse("api-clients:list"))
    return render(request, "api/client_disclosure.html", {"form": form, "api_client": client})
