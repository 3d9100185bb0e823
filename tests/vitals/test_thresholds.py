"""Named safety checks at their boundaries, and tighten-only clinic overrides."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.classification import classify_reading, threshold_hits
from vitals.errors import LooseningRefused, OverrideError
from vitals.thresholds import (
    LOW_OPS,
    default_thresholds,
    is_at_least_as_tight,
    merge_clinic_overrides,
    vital_specs,
)


def fired(observed, thresholds=None):
    return {h.check_id for h in threshold_hits(observed, thresholds)}


@pytest.mark.parametrize(
    ("check_id", "vital", "fires_at", "quiet_at"),
    [
        ("oversedation_low_respiratory_rate", "respiratory_rate", "8", "9"),
        ("oversedation_low_spo2", "spo2", "91", "92"),
        ("hypertensive_crisis_systolic", "systolic_bp", "181", "180"),
        ("hypertensive_crisis_diastolic", "diastolic_bp", "121", "120"),
        ("hypertensive_reading_systolic", "systolic_bp", "140", "139"),
        ("hypertensive_reading_diastolic", "diastolic_bp", "90", "89"),
        ("tachycardia", "heart_rate", "101", "100"),
        ("raised_temperature", "body_temperature", "38.1", "38.0"),
    ],
)
def test_check_boundaries(check_id, vital, fires_at, quiet_at):
    assert check_id in fired({vital: Decimal(fires_at)})
    assert check_id not in fired({vital: Decimal(quiet_at)})


def test_not_alert_check():
    assert "oversedation_not_alert" in fired({"consciousness": "V"})
    assert "oversedation_not_alert" not in fired({"consciousness": "A"})


def test_every_check_has_source_status_and_severity():
    for check in default_thresholds().checks.values():
        assert check.source and check.status and check.severity in {"medium", "high"}
        assert check.vital in vital_specs() or check.vital == "consciousness"


def test_hit_carries_evidence_and_source():
    hit = next(
        h for h in threshold_hits({"respiratory_rate": Decimal(7)}) if h.check_id.endswith("respiratory_rate")
    )
    assert hit.evidence == "respiratory_rate = 7 (rule respiratory_rate <= 8)"
    assert "NEWS2" in hit.source and "not validated for IOP" in hit.status


def test_over_sedation_from_a_reading():
    result = classify_reading({"respiratory_rate": 7, "spo2": 90, "consciousness": "P"})
    ids = {a.check_id for a in result.alerts}
    assert {"oversedation_low_respiratory_rate", "oversedation_low_spo2", "oversedation_not_alert"} <= ids


# ---- overrides ------------------------------------------------------------------------------------------
def test_tightening_is_applied():
    merged = merge_clinic_overrides(
        default_thresholds(),
        {
            "checks": {
                "oversedation_low_respiratory_rate": {"value": 10},
                "hypertensive_crisis_systolic": {"value": 170},
            },
            "usual": {"heart_rate": {"min": 50, "max": 110}},
        },
    )
    assert "oversedation_low_respiratory_rate" in fired({"respiratory_rate": Decimal(10)}, merged)
    assert "oversedation_low_respiratory_rate" not in fired({"respiratory_rate": Decimal(11)}, merged)
    assert "hypertensive_crisis_systolic" in fired({"systolic_bp": Decimal(171)}, merged)
    assert classify_reading({"heart_rate": 115}, merged).needs_confirmation
    assert not classify_reading({"heart_rate": 115}).needs_confirmation
    assert is_at_least_as_tight(merged, default_thresholds())


def test_defaults_untouched_by_a_merge():
    merge_clinic_overrides(default_thresholds(), {"checks": {"tachycardia": {"value": 90}}})
    assert default_thresholds().checks["tachycardia"].value == 100


def test_equal_values_are_allowed():
    merged = merge_clinic_overrides(default_thresholds(), {"checks": {"tachycardia": {"value": 100}}})
    assert merged.checks["tachycardia"].value == 100


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"checks": {"oversedation_low_respiratory_rate": {"value": 7}}}, "would loosen"),
        ({"checks": {"oversedation_low_spo2": {"value": 88}}}, "would loosen"),
        ({"checks": {"hypertensive_crisis_systolic": {"value": 190}}}, "would loosen"),
        ({"checks": {"tachycardia": {"value": 101}}}, "would loosen"),
        ({"checks": {"raised_temperature": {"value": 38.2}}}, "would loosen"),
        ({"usual": {"spo2": {"min": 90}}}, "wider than the default"),
        ({"usual": {"heart_rate": {"max": 140}}}, "wider than the default"),
    ],
)
def test_loosening_refused(overrides, needle):
    with pytest.raises(LooseningRefused) as exc:
        merge_clinic_overrides(default_thresholds(), overrides)
    assert needle in str(exc.value) and "only" in str(exc.value)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"checks": {"oversedation_not_alert": {"value": "C"}}}, "cannot be overridden"),
        ({"checks": {"no_such_check": {"value": 1}}}, "no such threshold"),
        ({"checks": {"tachycardia": {"value": 90, "severity": "low"}}}, 'exactly one key, "value"'),
        ({"checks": {"tachycardia": 90}}, 'exactly one key, "value"'),
        ({"checks": {"tachycardia": {"value": 90.5}}}, "whole numbers"),
        ({"checks": {"tachycardia": {"value": "fast"}}}, "must be a number"),
        ({"checks": {"oversedation_low_spo2": {"value": 101}}}, "outside the possible range"),
        ({"usual": {"heart_rate": {"min": 100, "max": 90}}}, "above max"),
        ({"usual": {"pulse": {"min": 50}}}, "no such vital"),
        ({"usual": {"heart_rate": {}}}, '"min" and/or "max"'),
        ({"limits": {}}, "unknown override section"),
        ([], "must be an object"),
    ],
)
def test_malformed_overrides_refused(overrides, needle):
    with pytest.raises(OverrideError) as exc:
        merge_clinic_overrides(default_thresholds(), overrides)
    assert needle in str(exc.value)
    assert not isinstance(exc.value, LooseningRefused) or needle == "would loosen"


OVERRIDABLE = [c for c in default_thresholds().checks.values() if c.overridable]


def _value_for(vital):
    spec = vital_specs()[vital]
    step = Decimal(1).scaleb(-spec.decimals)
    lo, hi = int(spec.possible.min / step), int(spec.possible.max / step)
    return st.integers(lo - 5, hi + 5).map(lambda n: n * step)


overrides_strategy = st.fixed_dictionaries(
    {},
    optional={
        "checks": st.fixed_dictionaries(
            {}, optional={c.id: st.fixed_dictionaries({"value": _value_for(c.vital)}) for c in OVERRIDABLE}
        ),
        "usual": st.fixed_dictionaries(
            {},
            optional={
                v: st.fixed_dictionaries({}, optional={"min": _value_for(v), "max": _value_for(v)})
                for v in vital_specs()
            },
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(overrides=overrides_strategy)
def test_merged_thresholds_are_never_looser_than_defaults(overrides):
    defaults = default_thresholds()
    try:
        merged = merge_clinic_overrides(defaults, overrides)
    except OverrideError:
        return
    assert is_at_least_as_tight(merged, defaults)


@settings(max_examples=300, deadline=None)
@given(
    check=st.sampled_from(OVERRIDABLE),
    shift=st.integers(0, 20),
    probe=st.integers(-50, 50),
)
def test_tightened_check_fires_wherever_the_default_fires(check, shift, probe):
    step = Decimal(1).scaleb(-vital_specs()[check.vital].decimals)
    tighter = check.value + shift * step if check.op in LOW_OPS else check.value - shift * step
    try:
        merged = merge_clinic_overrides(default_thresholds(), {"checks": {check.id: {"value": tighter}}})
    except OverrideError:
        return  # only when the tightened value left the possible range
    observed = check.value + probe * step
    if check.fires(observed):
        assert merged.checks[check.id].fires(observed)


def _tight_check_value(check):
    spec = vital_specs()[check.vital]
    step = Decimal(1).scaleb(-spec.decimals)
    if check.op in LOW_OPS:
        lo, hi = check.value, spec.possible.max
    else:
        lo, hi = spec.possible.min, check.value
    return st.integers(int(lo / step), int(hi / step)).map(lambda n: n * step)


def _tight_usual(vital):
    spec = vital_specs()[vital]
    step = Decimal(1).scaleb(-spec.decimals)
    lo, hi = int(spec.usual.min / step), int(spec.usual.max / step)
    return st.tuples(st.integers(lo, hi), st.integers(lo, hi)).map(
        lambda pair: {"min": min(pair) * step, "max": max(pair) * step}
    )


tight_overrides = st.fixed_dictionaries(
    {
        "checks": st.fixed_dictionaries(
            {}, optional={c.id: st.fixed_dictionaries({"value": _tight_check_value(c)}) for c in OVERRIDABLE}
        ),
        "usual": st.fixed_dictionaries({}, optional={v: _tight_usual(v) for v in vital_specs()}),
    }
)


@settings(max_examples=300, deadline=None)
@given(overrides=tight_overrides)
def test_any_tightening_within_possible_limits_is_accepted(overrides):
    merged = merge_clinic_overrides(default_thresholds(), overrides)
    assert is_at_least_as_tight(merged, default_thresholds())
    for check_id, override in overrides["checks"].items():
        assert merged.checks[check_id].value == override["value"]
