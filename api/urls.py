from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api.admissions import InquiryViewSet
from api.alerts import AlertViewSet
from api.checkins import CheckInViewSet
from api.consent import ConsentViewSet, DisclosureViewSet, RecipientViewSet
from api.insurance import AuthorizationViewSet, CoverageViewSet, EligibilityCheckViewSet, VerificationViewSet
from api.intake import IntakeAssessmentViewSet
from api.patients import DiagnosisViewSet, PatientViewSet
from api.pdmp import PdmpImportViewSet
from api.prescribers import DispensationViewSet, MedicationViewSet, PrescriberViewSet
from api.scheduling import SCHEDULING_ROUTES
from api.taper import DoseRecordViewSet, TaperPlanViewSet, TaperStepViewSet, TaperVersionViewSet
from api.vitals import InstrumentResultViewSet, VitalReadingViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("patients", PatientViewSet, basename="patient")
router.register("diagnoses", DiagnosisViewSet, basename="diagnosis")
router.register("inquiries", InquiryViewSet, basename="inquiry")
router.register("intake-assessments", IntakeAssessmentViewSet, basename="intake-assessment")
router.register("coverages", CoverageViewSet, basename="coverage")
router.register("verifications", VerificationViewSet, basename="verification")
router.register("authorizations", AuthorizationViewSet, basename="authorization")
router.register("eligibility-checks", EligibilityCheckViewSet, basename="eligibility-check")
router.register("consents", ConsentViewSet, basename="consent")
router.register("recipients", RecipientViewSet, basename="recipient")
router.register("disclosures", DisclosureViewSet, basename="disclosure")
router.register("vital-readings", VitalReadingViewSet, basename="vital-reading")
router.register("instrument-results", InstrumentResultViewSet, basename="instrument-result")
router.register("checkins", CheckInViewSet, basename="checkin")
router.register("alerts", AlertViewSet, basename="alert")
router.register("taper-plans", TaperPlanViewSet, basename="taper-plan")
router.register("taper-versions", TaperVersionViewSet, basename="taper-version")
router.register("taper-steps", TaperStepViewSet, basename="taper-step")
router.register("dose-records", DoseRecordViewSet, basename="dose-record")
router.register("prescribers", PrescriberViewSet, basename="prescriber")
router.register("medications", MedicationViewSet, basename="medication")
router.register("dispensations", DispensationViewSet, basename="dispensation")
router.register("pdmp-imports", PdmpImportViewSet, basename="pdmp-import")
for prefix, viewset, basename in SCHEDULING_ROUTES:
    router.register(prefix, viewset, basename=basename)

_swagger_ui = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

urlpatterns = [
    path("v1/", include((router.urls, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file (no inline script); its page has an inline <style>
    # block, allowed on this page alone.
    path("docs/", _swagger_ui, name="api-docs"),
]
