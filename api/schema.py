"""OpenAPI pieces drf-spectacular cannot infer: how bearer tokens are sent, and what errors each call answers.

`StepdownAutoSchema` (DEFAULT_SCHEMA_CLASS) declares, per operation, the problem+json answers the API really
gives (api/errors.py), so a client and Schemathesis (tests/api/test_schemathesis.py) know every status:
- 400 on writes and on operations with query parameters (fields, filters, page size, cursor);
- 401 and 403 everywhere (no or a revoked token; a role that does not allow the action, a consent refusal);
- 404 on routes with an id; 406 everywhere (an Accept the API cannot answer);
- 409 and 422 on POST (an `Idempotency-Key` still open or reused with another body) and where a view
  declares a conflict itself; 413 and 415 on writes (a body too large, a media type not JSON);
- 429 on throttled views.
It also maps the values serializers return but drf-spectacular describes too narrowly (times without an
offset, blank e-mail addresses and URLs, blank or emptied filter values refused).
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_bearer_security_scheme_object
from rest_framework import serializers

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem. Other members may follow (e.g. a taper refusal's steps).",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Per field (or `non_field_errors`, a header, a query parameter): what is wrong.",
            "additionalProperties": {},
        },
    },
    "required": ["type", "title", "status"],
    "additionalProperties": {},
}
WRITES = ("POST", "PUT", "PATCH")
ERRORS = {
    "400": _("The request is not valid: its body, query parameters or headers (see `errors`)."),
    "401": _("No credentials, or a token that is unknown or revoked."),
    "403": _("The role (or the consent of an outside recipient) does not allow this."),
    "404": _("No such object in this clinic."),
    "406": _("The Accept header names no media type this API answers with."),
    "409": _("A conflict: the object's state does not allow this now, or the Idempotency-Key is still open."),
    "413": _("The body is larger than this endpoint accepts."),
    "415": _("The body's media type is not one this endpoint reads (send application/json)."),
    "422": _("This Idempotency-Key was already used for a different request."),
    "429": _("Too many requests; retry after the time in Retry-After."),
}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retrying with the same key and body replays the first answer instead of a second write.",
    "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._:-]{1,100}$"},
}
# A time of day as the API writes it (HH:MM[:SS[.ffffff]]): JSON Schema's "time" format demands an offset.
TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"


class WriteChoiceField(serializers.ChoiceField):
    """Accepts `choices`, but answers with any of `read_choices`: e.g. a vital's source is `api` or `device`
    when an API client writes it, and also `clinic` or `checkin` when it was recorded elsewhere."""

    def __init__(self, *, read_choices, **kwargs) -> None:
        super().__init__(**kwargs)
        self.read_choices = read_choices


class StepdownAutoSchema(AutoSchema):
    def error_statuses(self) -> list[str]:
        method, view = self.method.upper(), self.view
        codes = ["401", "403", "406"]
        if method in WRITES or any(p.get("in") == "query" for p in self._get_parameters()):
            codes.append("400")
        if "{" in self.path:
            codes.append("404")
        if method in WRITES:
            codes += ["413", "415"]
        if method == "POST":
            codes += ["409", "422"]
        if view.get_throttles():
            codes.append("429")
        return sorted(codes)

    def _problem(self) -> dict:
        component = ResolvedComponent(
            name="Problem", type=ResolvedComponent.SCHEMA, object="Problem", schema=PROBLEM_SCHEMA
        )
        self.registry.register_on_missing(component)
        return {PROBLEM_MEDIA_TYPE: {"schema": component.ref}}

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        declared = [code for code, answer in responses.items() if code >= "400" and "content" not in answer]
        for code in sorted({*self.error_statuses(), *declared}):
            answer = responses.get(code, {})
            if "content" in answer and PROBLEM_MEDIA_TYPE in answer["content"]:
                continue
            # A view's own description (e.g. what a 409 of this action means) is kept; the body is a problem.
            responses[code] = {
                **answer,
                "content": {**answer.get("content", {}), **self._problem()},
                "description": answer.get("description") or str(ERRORS.get(code, "")),
            }
        return dict(sorted(responses.items()))

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            is_filter = parameter.get("in") == "query" and parameter.get("name") != "cursor"
            if is_filter and schema.get("type") == "string" and "enum" not in schema:
                # A named filter with an empty or blank value is refused (api/filters.py).
                schema.setdefault("pattern", r"\S")
            if parameter.get("in") == "query" and parameter.get("name") == "page_size":
                schema.setdefault("minimum", 1)  # above the maximum, the maximum is used
        if self.method.upper() == "POST" and not any(p["name"] == "Idempotency-Key" for p in parameters):
            parameters.append(dict(IDEMPOTENCY_KEY))
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if isinstance(field, WriteChoiceField) and direction == "response":
            field = serializers.ChoiceField(choices=field.read_choices)
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.TimeField) and schema.get("format") == "time":
            schema.pop("format")
            schema["pattern"] = TIME_PATTERN
        if _may_be_blank(field) and "enum" in schema and "" not in schema["enum"]:
            schema["enum"] = [*schema["enum"], ""]  # becomes BlankEnum (ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE)
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # drf-spectacular lets "" through a format ("email", "uri") only for `allow_blank`; a read-only
        # model field that may be blank (an address not given) gets the same `oneOf`.
        constrained = "format" in schema or "pattern" in schema
        if schema.get("type") == "string" and constrained and _may_be_blank(field):
            outer = {"readOnly", "writeOnly", "nullable", "deprecated", "description", "title"}
            inner = {key: schema.pop(key) for key in list(schema) if key not in outer}
            schema["oneOf"] = [inner, {"type": "string", "maxLength": 0}]


def _may_be_blank(field) -> bool:
    """Whether a field can hold "": DRF drops `allow_blank` from read-only model fields, so for those the
    model field says (`blank=True`, e.g. a choice not made yet, an address not given)."""
    if getattr(field, "allow_blank", False):
        return True
    if not getattr(field, "read_only", False) or not isinstance(
        field, (serializers.CharField, serializers.ChoiceField)
    ):
        return False
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or "." in (field.source or "") or field.source == "*":
        return False
    try:
        model_field = model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return False
    return bool(getattr(model_field, "blank", False)) and not model_field.is_relation


class ClinicTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ClinicTokenAuthentication"
    name = "clinicToken"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106 - a scheme name
        scheme["description"] = "A clinic API token (sdk_…), issued by a clinic admin; it names its clinic."
        return scheme
