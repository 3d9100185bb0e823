"""OpenAPI pieces drf-spectacular cannot infer: how the bearer API tokens are sent."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class ClinicTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ClinicTokenAuthentication"
    name = "clinicToken"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106 - a scheme name
        scheme["description"] = "A clinic API token (sdk_…), issued by a clinic admin; it names its clinic."
        return scheme
