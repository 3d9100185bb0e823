"""Bearer-token authentication for API clients. The token names its clinic and its roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from api.models import ApiClient
from api.services import TOKEN_PREFIX, hash_token
from clinic.actors import Actor, ActorKind
from clinic.tenancy.models import Clinic
from clinic.tenancy.roles import Perm

LAST_USED_GRANULARITY = timedelta(minutes=5)


@dataclass
class ApiPrincipal:
    """What `request.user` is for a token request: acts in exactly one clinic, with the token's roles."""

    client: ApiClient
    clinic: Clinic = field(init=False)
    is_authenticated: bool = True
    is_anonymous: bool = False
    pk: None = None

    def __post_init__(self) -> None:
        self.clinic = self.client.clinic

    def as_actor(self) -> Actor:
        label = f"api:{self.client.name} ({self.client.token_prefix}…)"
        return Actor(kind=ActorKind.API_CLIENT, label=label, roles=tuple(self.client.roles))

    def allows(self, perm: Perm) -> bool:
        return self.client.allows(perm)


class ClinicTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        # Auth schemes are case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
        if scheme.lower() != self.keyword.lower() or not token.startswith(TOKEN_PREFIX):
            return None
        client = (
            ApiClient.objects.select_related("clinic")
            .filter(token_hash=hash_token(token), revoked_at__isnull=True, clinic__is_active=True)
            .first()
        )
        if client is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API token.")
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > LAST_USED_GRANULARITY:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return ApiPrincipal(client), client

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="stepdown"'
