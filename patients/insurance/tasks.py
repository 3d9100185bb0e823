"""Jobs of the insurance area: collect eligibility responses (271s) for sent inquiries. Thin: the service
does the work inside one clinic at a time."""

from __future__ import annotations

from celery import shared_task

from clinic.jobs.base import StepdownTask, clinic_step, fan_out_to_clinics


@shared_task(base=StepdownTask, name="patients.insurance.tasks.poll_eligibility_responses")
def poll_eligibility_responses(clinic_id: int) -> dict[str, int]:
    """Re-runnable: the transport claims each 271 file once, and a check leaves `sent` when it is read."""
    from patients.insurance.services import eligibility_poll_sent

    with clinic_step(clinic_id):
        return eligibility_poll_sent()


@shared_task(base=StepdownTask, name="patients.insurance.tasks.poll_all_eligibility_responses")
def poll_all_eligibility_responses() -> int:
    return fan_out_to_clinics(poll_eligibility_responses)
