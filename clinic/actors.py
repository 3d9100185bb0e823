"""Who does something: a signed-in staff user, an API client, a patient's check-in link, or a system job.

Services take `actor: ActorLike` — whatever the interface has (`request.user`, the API's principal, a
check-in link, None for a job) — and turn it into one `Actor` with `as_actor`. Audit records the same
`label` and `user`. Permission questions go through `Actor.allows`, so a token, a person and a job are
judged by the one role table (`clinic.tenancy.roles`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, Union, runtime_checkable

from clinic.tenancy.roles import Perm, role_allows

if TYPE_CHECKING:
    from clinic.accounts.models import User


class ActorKind(StrEnum):
    USER = "user"
    API_CLIENT = "api_client"
    PATIENT_LINK = "patient_link"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    label: str  # what the audit trail shows: an e-mail, "api:EHR sync (sdk_ab12…)", "patient check-in link …"
    user: User | None = None  # the staff user when a person acts; None for a token, a link or a job
    # A token's roles travel with it; a person's roles are their membership of the clinic in scope.
    roles: tuple[str, ...] | None = None
    _user_roles: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def is_system(self) -> bool:
        return self.kind == ActorKind.SYSTEM

    def as_actor(self) -> Actor:
        return self

    def allows(self, perm: Perm) -> bool:
        """The role table applied to this actor in the clinic in scope. A job or a link is allowed nothing
        by role: the services that let them act say so explicitly."""
        if self.roles is not None:
            return role_allows(self.roles, perm)
        if self.user is None:
            return False
        return role_allows(self._roles_here(), perm)

    def _roles_here(self) -> tuple[str, ...]:
        from clinic.tenancy.context import require_clinic
        from clinic.tenancy.models import Membership

        clinic = require_clinic()
        if clinic.pk not in self._user_roles:  # one query per actor and clinic, however many checks
            membership = Membership.objects.of(self.user).filter(clinic=clinic).first()
            self._user_roles[clinic.pk] = tuple(membership.roles) if membership else ()
        return self._user_roles[clinic.pk]


SYSTEM = Actor(kind=ActorKind.SYSTEM, label="")


@runtime_checkable
class SupportsActor(Protocol):
    def as_actor(self) -> Actor: ...


ActorLike = Union[Actor, "User", SupportsActor, None]


def as_actor(who: ActorLike | object) -> Actor:
    """The one Actor behind what an interface hands a service. An anonymous visitor acts as nobody."""
    if who is None:
        return SYSTEM
    if isinstance(who, SupportsActor):
        return who.as_actor()
    from clinic.accounts.models import User

    if isinstance(who, User) and who.pk:
        return Actor(kind=ActorKind.USER, label=who.email, user=who)
    if not getattr(who, "is_authenticated", False):
        return SYSTEM
    raise TypeError(f"{type(who).__name__} cannot act: give it an as_actor() method")
