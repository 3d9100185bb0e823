"""What would keep the guideline cap or the requested pace, when a request does not. Pure (no Django).

Every alternative is tried: the engine builds the schedule with the change, and an alternative is offered
only if that schedule is better (fewer steps over the cap, or fewer cuts larger than the requested pace).
The result says what the change achieves, so a clinician can choose knowing the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from taper.catalogue import DIAZEPAM, Catalogue, Formulation
from taper.engine import LiquidUse, Schedule, Strategy, TaperRequest, as_decimal, build_schedule
from taper.errors import TaperCapError, TaperInputError

RATES_TO_TRY = (Fraction(20), Fraction(15), Fraction(10), Fraction(15, 2), Fraction(5))
INTERVALS_TO_TRY = (14, 21, 28)


@dataclass(frozen=True)
class Alternative:
    # cross_titrate | liquid_for_pace | allow_liquid | stock | slower_rate | longer_interval | override
    code: str
    label: str  # the action, in plain language
    outcome: str  # what it achieves, in plain language
    changes: tuple[tuple[str, str], ...]  # what the builder sets, e.g. (("strategy", "cross_titrate"),)
    fixes: bool  # removes the problem entirely
    psychiatrist_only: bool = False


@dataclass(frozen=True)
class _Outcome:
    built: bool
    over_cap: int  # steps over the cap that no override accepts
    over_rate: int


def _outcome(req: TaperRequest, catalogue: Catalogue) -> _Outcome | None:
    try:
        schedule = build_schedule(req, catalogue)
    except TaperCapError as exc:
        over_rate = len(exc.schedule.over_rate_steps) if exc.schedule else 0
        return _Outcome(False, len(exc.violations), over_rate)
    except TaperInputError:
        return None
    return _Outcome(True, 0, len(schedule.over_rate_steps))


def _drugs(req: TaperRequest, catalogue: Catalogue) -> list[str]:
    names = {catalogue.drug(a.drug).name for a in req.regimen}
    if req.strategy == Strategy.CROSS_TITRATE:
        names.add(DIAZEPAM)
    return sorted(names)


def _stock(req: TaperRequest, catalogue: Catalogue) -> frozenset[str]:
    return catalogue.default_stock() if req.available_formulations is None else req.available_formulations


def _unstocked(req: TaperRequest, catalogue: Catalogue) -> list[Formulation]:
    stock = _stock(req, catalogue)
    return [
        form
        for drug in _drugs(req, catalogue)
        for form in catalogue.drug(drug).formulations
        if form.id not in stock
    ]


def _stocked_liquid(req: TaperRequest, catalogue: Catalogue) -> bool:
    stock = _stock(req, catalogue)
    return any(
        form.is_liquid and form.id in stock
        for drug in _drugs(req, catalogue)
        for form in catalogue.drug(drug).formulations
    )


def _can_cross_titrate(req: TaperRequest, catalogue: Catalogue) -> bool:
    if req.strategy != Strategy.DIRECT:
        return False
    if all(catalogue.drug(a.drug).name == DIAZEPAM for a in req.regimen):
        return False
    stock = _stock(req, catalogue)
    return catalogue.drug(DIAZEPAM).equivalence(req.table).mg is not None and any(
        f.id in stock for f in catalogue.drug(DIAZEPAM).formulations
    )


def _mg(value: Fraction) -> str:
    return f"{as_decimal(value).normalize():f}"


def _steps(n: int) -> str:
    return "1 step" if n == 1 else f"{n} steps"


def _candidates(
    req: TaperRequest, catalogue: Catalogue, *, for_pace: bool
) -> list[tuple[Alternative, TaperRequest]]:
    """(alternative with a placeholder outcome, the changed request) in the order they are offered."""
    out: list[tuple[Alternative, TaperRequest]] = []

    def add(code: str, label: str, changes: dict[str, str], changed: TaperRequest) -> None:
        out.append((Alternative(code, label, "", tuple(changes.items()), False), changed))

    if _can_cross_titrate(req, catalogue):
        add(
            "cross_titrate",
            "Switch to diazepam first (cross-titration), then taper diazepam",
            {"strategy": Strategy.CROSS_TITRATE.value},
            replace(req, strategy=Strategy.CROSS_TITRATE),
        )
    if _stocked_liquid(req, catalogue):
        if req.liquid == LiquidUse.NEVER:
            add(
                "allow_liquid",
                "Allow the stocked oral liquid where tablets cannot make a small enough cut",
                {"liquid": LiquidUse.PACE.value if for_pace else LiquidUse.CAP.value},
                replace(req, liquid=LiquidUse.PACE if for_pace else LiquidUse.CAP),
            )
        elif for_pace and req.liquid == LiquidUse.CAP:
            add(
                "liquid_for_pace",
                "Use the stocked oral liquid wherever tablets cannot keep the requested pace",
                {"liquid": LiquidUse.PACE.value},
                replace(req, liquid=LiquidUse.PACE),
            )
    for form in _unstocked(req, catalogue):
        liquid = (
            LiquidUse.PACE if for_pace else (LiquidUse.CAP if req.liquid == LiquidUse.NEVER else req.liquid)
        )
        add(
            "stock",
            f"Stock {form.describe()} (ask the pharmacy, then mark it stocked in the formulary)",
            {"stock": form.id},
            replace(
                req,
                available_formulations=_stock(req, catalogue) | {form.id},
                liquid=liquid if form.is_liquid else req.liquid,
            ),
        )
    return out


def for_refusal(req: TaperRequest, catalogue: Catalogue, error: TaperCapError) -> tuple[Alternative, ...]:
    """Ways out of a refusal: what keeps the cap (each tried), then a psychiatrist's override of the steps."""
    now = len(error.violations)
    offered: list[Alternative] = []
    if any(v.kind == "rate" for v in error.violations):
        offered += _pace_changes(req, catalogue)
    offered += _tried(
        req, catalogue, for_pace=False, now=now, left=lambda r: r.over_cap, goal="keeps the guideline cap",
        still="over the cap",
    )  # fmt: skip
    steps = ",".join(str(v.step) for v in error.violations)
    numbers = ", ".join(str(v.step) for v in error.violations)
    offered.append(
        Alternative(
            "override",
            f"Accept step{'s' if now > 1 else ''} {numbers} over the cap, with a written reason",
            "a psychiatrist's decision, kept with the plan",
            (("override_steps", steps),),
            True,
            psychiatrist_only=True,
        )
    )
    return tuple(offered)


def _pace_changes(req: TaperRequest, catalogue: Catalogue) -> list[Alternative]:
    """A slower rate, or a longer interval, that keeps the cap (the first that works of each)."""
    out = []
    if req.reduction_de_mg is None:
        current = Fraction(str(req.rate_percent))
        for rate in RATES_TO_TRY:
            if rate >= current:
                continue
            result = _outcome(replace(req, rate_percent=rate), catalogue)
            if result is not None and result.built:
                out.append(
                    Alternative(
                        "slower_rate",
                        f"Reduce by {_mg(rate)}% per step instead of {_mg(current)}%",
                        "keeps the guideline cap at every step",
                        (("rate_percent", _mg(rate)),),
                        True,
                    )
                )
                break
    for days in INTERVALS_TO_TRY:
        if days <= req.interval_days:
            continue
        result = _outcome(replace(req, interval_days=days), catalogue)
        if result is not None and result.built:
            out.append(
                Alternative(
                    "longer_interval",
                    f"Reduce every {days} days instead of every {req.interval_days}",
                    "keeps the guideline cap at every step",
                    (("interval_days", str(days)),),
                    True,
                )
            )
            break
    return out


def for_pace(req: TaperRequest, catalogue: Catalogue, schedule: Schedule) -> tuple[Alternative, ...]:
    """Ways to keep the requested pace where the schedule's cuts exceed it by more than half."""
    now = len(schedule.over_rate_steps)
    if not now:
        return ()
    return tuple(
        _tried(
            req, catalogue, for_pace=True, now=now, left=lambda r: r.over_rate if r.built else now,
            goal="keeps the requested pace", still="cutting more than requested",
        )
    )  # fmt: skip


def _tried(req, catalogue, *, for_pace: bool, now: int, left, goal: str, still: str) -> list[Alternative]:
    """Each candidate change, built; kept only if it leaves fewer problem steps than `now`."""
    offered = []
    for alt, changed in _candidates(req, catalogue, for_pace=for_pace):
        result = _outcome(changed, catalogue)
        remaining = now if result is None else left(result)
        if remaining >= now:
            continue
        outcome = (
            f"{goal} at every step" if remaining == 0 else f"leaves {_steps(remaining)} {still} (now {now})"
        )
        offered.append(replace(alt, outcome=outcome, fixes=remaining == 0))
    return offered


__all__ = ["Alternative", "for_pace", "for_refusal"]
