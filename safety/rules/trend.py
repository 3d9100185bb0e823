"""Rising withdrawal scores after a taper reduction step (program policy, status U).

Definition (safety/data/sweep_policy.json `withdrawal_trend_rising`): for the latest reduction step,
starting on local day S, and window length N: the mean score on days S .. S+N-1 (up to `as_of`) exceeds the
mean on days S-N .. S-1 by at least `min_rise`, with at least `min_before` / `min_after` scores on each side.
Each series (CIWA-B totals, check-in symptom scores) is checked on its own scale; one finding per step,
listing every series that rose. The finding suggests that the psychiatrist consider a hold: nothing is
applied. Means are compared exactly (fractions), so a rise of exactly `min_rise` fires. Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from uuid import UUID

from safety.findings import Finding
from safety.rules.facts import ScorePoint
from safety.rules.policy import TrendPolicy, TrendSeries, policy

TREND_RULE = "withdrawal_trend_rising"
SUGGESTION = (
    "Withdrawal scores rose after the latest dose reduction. The psychiatrist should review the taper and "
    "consider holding at the current step. Nothing has been changed: the software never changes a dose."
)


def trend_key(patient_id: object, step_start: date) -> str:
    return f"{TREND_RULE}:{patient_id}:{step_start.isoformat()}"


@dataclass(frozen=True)
class SeriesRise:
    series: TrendSeries
    before: tuple[ScorePoint, ...]
    after: tuple[ScorePoint, ...]
    mean_before: Fraction
    mean_after: Fraction

    @property
    def rise(self) -> Fraction:
        return self.mean_after - self.mean_before

    @property
    def fires(self) -> bool:
        return self.rise >= Fraction(self.series.min_rise)


def windows(step_start: date, window_days: int, as_of: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """(first, last) local days of the before- and after-windows, both inclusive."""
    after_last = min(step_start + timedelta(days=window_days - 1), as_of)
    return (step_start - timedelta(days=window_days), step_start - timedelta(days=1)), (
        step_start,
        after_last,
    )


def series_rise(
    series: TrendSeries, points: Sequence[ScorePoint], *, step_start: date, as_of: date, window_days: int
) -> SeriesRise | None:
    """The comparison for one series; None when either window has too few scores."""
    (b0, b1), (a0, a1) = windows(step_start, window_days, as_of)
    ordered = sorted(points, key=lambda p: (p.day, p.at, str(p.source_id)))
    before = tuple(p for p in ordered if b0 <= p.day <= b1)
    after = tuple(p for p in ordered if a0 <= p.day <= a1)
    if len(before) < series.min_before or len(after) < series.min_after:
        return None

    def mean(ps: Sequence[ScorePoint]) -> Fraction:
        return sum((Fraction(p.value) for p in ps), Fraction(0)) / len(ps)

    return SeriesRise(series, before, after, mean(before), mean(after))


def _dec(value: Fraction) -> str:
    return str(
        (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    )


def _points(ps: Sequence[ScorePoint]) -> list[dict]:
    return [{"day": p.day.isoformat(), "value": str(p.value), "source_id": str(p.source_id)} for p in ps]


def withdrawal_trend_finding(
    *,
    patient_id: UUID,
    step_start: date,
    as_of: date,
    series: Mapping[str, Sequence[ScorePoint]],
    step: Mapping[str, str] | None = None,
    trend: TrendPolicy | None = None,
) -> Finding | None:
    """One finding when any series rose after the reduction that started on `step_start`, else None."""
    trend = trend or policy().trend
    if as_of < step_start:
        return None
    rises = []
    for spec in trend.series:
        rise = series_rise(
            spec, series.get(spec.id, ()), step_start=step_start, as_of=as_of, window_days=trend.window_days
        )
        if rise is not None and rise.fires:
            rises.append(rise)
    if not rises:
        return None
    evidence = {
        "kind": "withdrawal_trend",
        "step_start": step_start.isoformat(),
        "step": dict(step or {}),
        "window_days": trend.window_days,
        "series": [
            {
                "id": r.series.id,
                "label": r.series.label,
                "before": _points(r.before),
                "after": _points(r.after),
                "mean_before": _dec(r.mean_before),
                "mean_after": _dec(r.mean_after),
                "rise": _dec(r.rise),
                "min_rise": str(r.series.min_rise),
                "status": r.series.status,
                "source": r.series.source,
            }
            for r in rises
        ],
        "policy_status": trend.status,
        "policy_source": trend.source,
        "suggestion": SUGGESTION,
    }
    occurred_at = max(p.at for r in rises for p in r.after)
    return Finding(TREND_RULE, patient_id, trend_key(patient_id, step_start), evidence, occurred_at)
