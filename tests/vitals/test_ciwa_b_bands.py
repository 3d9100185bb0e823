"""CIWA-B severity bands as saved, shown and alerted on: 0 is "none" (clinical.md 3a, U), never "mild",
and a result in the "none" band raises no alert and gets no warning colour."""

from __future__ import annotations

import pytest

from clinic.tenancy.context import tenant_context
from safety.evaluation import evaluate_patient
from safety.models import Alert
from tests.vitals.conftest import score
from tests.vitals.test_views import base, local_now
from vitals.models import InstrumentResult

pytestmark = pytest.mark.django_db


def answers_totalling(total: int) -> dict[str, int]:
    """Twenty 0-4 items filled in order up to `total` (hand-computed band edges)."""
    answers, left = {}, total
    for n in range(1, 21):
        answers[str(n)] = min(4, left)
        left -= answers[str(n)]
    assert left == 0
    return answers


@pytest.mark.parametrize(
    ("total", "band", "flags"),
    [
        (0, "none", []),
        (1, "mild", []),
        (20, "mild", []),
        (21, "moderate", []),
        (40, "moderate", []),
        (41, "severe", ["ciwa_b_severe"]),
    ],
)
def test_saved_band_at_each_edge(clinic_a, patient_a, total, band, flags):
    result = score(clinic_a, patient_a, "ciwa_b", answers_totalling(total))
    assert (result.total, result.band, result.band_label, result.flags) == (total, band, band, flags)


def test_a_total_of_zero_is_shown_as_none_without_alert_or_warning_colour(clinic_a, patient_a, nurse_client):
    url = f"{base(clinic_a, patient_a)}/scores/new/ciwa_b/"
    data = {"completed_at": local_now(clinic_a)} | {f"item_{n}": "0" for n in range(1, 21)}
    page = nurse_client.post(url, data, follow=True).content.decode()
    assert "CIWA-B saved: total 0, none." in page
    assert 'id="result-total">0<' in page
    assert 'class="badge band-none" id="result-band">none<' in page
    assert 'role="alert"' not in page and "callout danger" not in page and "mild" not in page
    for listing in (f"{base(clinic_a, patient_a)}/", f"{base(clinic_a, patient_a)}/panel/"):
        body = nurse_client.get(listing).content.decode()
        assert 'class="badge band-none">none<' in body


def test_a_result_in_the_none_band_raises_no_alert(clinic_a, patient_a):
    none = score(clinic_a, patient_a, "ciwa_b", answers_totalling(0))
    assert (
        evaluate_patient(clinic=clinic_a, patient_id=patient_a.pk, kind="instrument", object_id=none.pk) == []
    )
    with tenant_context(clinic_a):
        assert not Alert.objects.exists()
    # The same path does alert on the severe band, so the silence above is the band's, not the wiring's.
    severe = score(clinic_a, patient_a, "ciwa_b", answers_totalling(41))
    raised = evaluate_patient(
        clinic=clinic_a, patient_id=patient_a.pk, kind="instrument", object_id=severe.pk
    )
    assert [a.rule_id for a in raised] == ["withdrawal_score_severe"]
    with tenant_context(clinic_a):
        assert InstrumentResult.objects.get(pk=none.pk).band == "none"
        assert list(Alert.objects.values_list("evidence__result_id", flat=True)) == [str(severe.pk)]
