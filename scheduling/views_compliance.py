"""Browser views of hours compliance: a patient's weekly attended hours against their program's
requirement, with the step-down recommendation, and the clinician's acceptance of a step-down.

Thin: scheduling.compliance and scheduling.stepdown_services read and decide; stepdown_accept writes (and
audits). Opening the page is audited as a read of the patient's record.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from scheduling import compliance, hours, stepdown_services
from scheduling.hours_chart import Bar, render_hours_chart
from scheduling.models import Program


class StepDownForm(forms.Form):
    from_program = forms.UUIDField(widget=forms.HiddenInput)
    program = forms.ModelChoiceField(
        label="Lower-level program",
        queryset=Program.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the programs listed (the next level down)."},
    )
    starts_on = forms.DateField(
        label="Starts on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The current enrolment ends the day before; sessions booked from this day are cancelled.",
    )
    reason = forms.CharField(
        label="Reason (kept with the enrolment)",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Three weeks of full attendance; CIWA-B settled"}),
    )

    def __init__(self, *args, targets: list[Program], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(pk__in=[p.pk for p in targets])
        self.fields["program"].label_from_instance = lambda p: f"{p.name} ({p.get_audience_display()})"


def _bars(data: compliance.PatientHours) -> list[Bar]:
    return [
        Bar(row.week.week_start, row.week.hours, complete=row.week.complete, below=row.status == hours.BELOW)
        for row in reversed(data.rows)
    ]


def _page(
    request: HttpRequest, patient, *, form: StepDownForm | None = None, status: int = 200
) -> HttpResponse:
    data = compliance.patient_hours(patient)
    req = data.requirement
    chart = render_hours_chart(
        _bars(data),
        min_hours=req.min_hours if req else None,
        below_hours=req.below_hours if req else None,
        subject=patient.display_name,
    )
    recommendation = stepdown_services.stepdown_recommendation(data.enrolment, today=data.today)
    if form is None and recommendation is not None and recommendation.targets:
        form = StepDownForm(
            targets=recommendation.targets,
            initial={
                "from_program": data.program.pk,
                "program": recommendation.targets[0].pk,
                "starts_on": clinic_today(),
            },
        )
    audit(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        obj=patient,
        patient=patient,
        detail={"view": "scheduling:patient-hours"},
    )
    context = {
        "patient": patient,
        "data": data,
        "chart": mark_safe(chart),  # built from escaped text by scheduling.hours_chart
        "recommendation": recommendation,
        "criteria_sources": stepdown_services.criteria_sources(),
        "form": form,
    }
    return render(request, "scheduling/compliance/patient_hours.html", context, status=status)


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def patient_hours_view(request: HttpRequest, patient_id) -> HttpResponse:
    return _page(request, patient_get(patient_id=patient_id))


@require_perm(Perm.SCHEDULE_MANAGE)
@require_POST
def stepdown_accept_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    enrolment = compliance.current_enrolment(patient)
    recommendation = stepdown_services.stepdown_recommendation(enrolment)
    targets = recommendation.targets if recommendation else []
    form = StepDownForm(request.POST, targets=targets)
    if not targets:
        form.is_valid()
        form.add_error(None, "There is no step-down to accept for this patient now.")
    elif form.is_valid():
        data = form.cleaned_data
        try:
            new = stepdown_services.stepdown_accept(
                actor=request.user,
                patient=patient,
                from_program_id=data["from_program"],
                target_program=data["program"],
                starts_on=data["starts_on"],
                reason=data["reason"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                f"{patient.display_name} steps down to {new.program.name} from {new.starts_on:%b %-d, %Y}.",
            )
            return redirect(clinic_reverse("scheduling:patient-hours", patient_id=patient.pk))
    return _page(request, patient, form=form, status=400)
