from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class StepdownAccountAdapter(DefaultAccountAdapter):
    """Staff join by invitation only: open sign-up is closed."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False
