"""Errors as RFC 9457 problem details: `type`, `title`, `status`, `detail`, plus field `errors`."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from api.idempotency import REPLAYED_HEADER, IdempotentReplay
from api.parsers import PayloadTooLarge

PROBLEM_TYPE = "https://stepdown.invalid/problems/"


def _as_drf(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return exceptions.ValidationError(detail)
    if isinstance(exc, RequestDataTooBig):  # Django's own cap, met when something reads request.body
        return PayloadTooLarge()
    return exc


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, IdempotentReplay):
        record = exc.record
        return Response(record.response_body, status=record.status_code, headers={REPLAYED_HEADER: "true"})
    # A domain refusal may carry more than messages (e.g. a taper refusal's steps and alternatives): RFC 9457
    # extension members, next to `errors`.
    members = exc.problem_members() if hasattr(exc, "problem_members") else {}
    exc = _as_drf(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, Http404):
        code, title = "not_found", "Not found"
    else:
        title = str(getattr(exc, "default_detail", "Error"))
    body: dict = {"type": PROBLEM_TYPE + code, "title": title, "status": response.status_code}
    if isinstance(exc, exceptions.ValidationError):
        body["title"] = "Some values are not valid"
        body["detail"] = "Correct the fields listed in `errors` and send the request again."
        body["errors"] = (
            response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        )
    elif isinstance(response.data, dict) and "detail" in response.data:
        body["detail"] = str(response.data["detail"])
    body.update({k: v for k, v in members.items() if k not in body})
    response.data = body
    response.content_type = "application/problem+json"
    if response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        body["title"] = "Method not allowed"
    return response
