from django.urls import include, path

from clinic import web_views

# Every URL under /c/<clinic_slug>/ runs inside that clinic (ClinicMiddleware); views there use require_perm.
clinic_patterns = [
    path("", include("workspace.urls")),
    path("patients/", include("patients.urls")),
    path("admissions/", include("patients.admissions.urls")),
    path("intake/", include("patients.intake.urls")),
    path("insurance/", include("patients.insurance.urls")),
    path("consent/", include("patients.consent.urls")),
    path("checkins/", include("vitals.checkins.urls")),
    path("vitals/", include("vitals.urls")),
    path("taper/", include("taper.urls")),
    path("prescribers/", include("prescribers.urls")),
    path("schedule/", include("scheduling.urls")),
    path("alerts/", include("safety.urls")),
    path("audit/", include("clinic.audit.urls")),
    path("admin/", include("clinic.accounts.urls")),
    path("", include("api.client_urls")),
]

urlpatterns = [
    path("", web_views.home, name="home"),
    path("healthz", web_views.healthz, name="healthz"),
    path("session/idle", web_views.session_idle, name="session-idle"),
    path("accounts/", include("allauth.urls")),
    path("invite/", include("clinic.accounts.invite_urls")),
    path("checkin/", include("vitals.checkins.public_urls")),
    # A staff member's iCal subscription: no session, the secret token names the clinic and the feed.
    path("feeds/", include("scheduling.feed_urls")),
    path("c/<slug:clinic_slug>/", include(clinic_patterns)),
    path("api/", include("api.urls")),
]

# allauth answers with this when an address sends too many sign-in (or reset) requests; it audits the refusal.
handler429 = "clinic.accounts.signin.rate_limited"
# Under /api/ a 404 of the resolver is a problem+json, as DRF's own 404s are (elsewhere: the HTML page).
handler404 = "api.handlers.page_not_found"
