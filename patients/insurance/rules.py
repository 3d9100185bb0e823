"""Pure rules of the insurance area: authorization balances and turning a 271 summary into VOB fields.

No Django here: the functions take plain values and return plain values, and are tested without a database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from patients.eligibility.response import NetworkSplit, VerificationSummary

REMAINING_WARNING_UNITS = 2
ENDING_WARNING_DAYS = 7


# --- authorizations -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuthorizationBalance:
    authorized: int
    used: int
    remaining: int
    warnings: tuple[str, ...]


def authorization_balance(
    *,
    authorized: int,
    used: int,
    end_date: dt.date,
    next_review_date: dt.date | None,
    today: dt.date,
    active: bool = True,
    unit_label: str = "units",
) -> AuthorizationBalance:
    """Used/remaining and the warnings staff should see (only for an active authorization)."""
    remaining = max(authorized - used, 0)
    warnings: list[str] = []
    if active:
        if remaining <= REMAINING_WARNING_UNITS:
            warnings.append(f"Only {remaining} {unit_label} left: request more from the payer.")
        days_left = (end_date - today).days
        if days_left < 0:
            warnings.append(f"Ended on {end_date:%b %-d, %Y}.")
        elif days_left <= ENDING_WARNING_DAYS:
            warnings.append(f"Ends in {days_left} day{'s' if days_left != 1 else ''} ({end_date:%b %-d}).")
        if next_review_date is not None and (next_review_date - today).days <= ENDING_WARNING_DAYS:
            when = "overdue" if next_review_date < today else f"due {next_review_date:%b %-d}"
            warnings.append(f"Concurrent review {when}.")
    return AuthorizationBalance(authorized, used, remaining, tuple(warnings))


def usage_problem(
    *,
    service_date: dt.date,
    units: int,
    start_date: dt.date,
    end_date: dt.date,
    remaining: int,
    status: str,
) -> tuple[str, str] | None:
    """Why a usage cannot be recorded, as (field, message); None when it can."""
    if status in ("denied", "pending"):
        return (
            "__all__",
            f"This authorization is {status}; usage can only be recorded against an approved one.",
        )
    if not start_date <= service_date <= end_date:
        return (
            "service_date",
            f"The authorization covers {start_date:%b %-d, %Y} to {end_date:%b %-d, %Y}; "
            f"{service_date:%b %-d, %Y} is outside it.",
        )
    if units > remaining:
        return ("units", f"Only {remaining} left on this authorization; {units} cannot be recorded.")
    return None


# --- verification of benefits from a 271 --------------------------------------------------------------------
def yes_no_unknown(value: bool | None) -> str:
    return "yes" if value is True else "no" if value is False else "unknown"


def _percent(value: Decimal | None) -> Decimal | None:
    # EB08 is a fraction (.2 = 20 %); the record keeps a percentage.
    return None if value is None else (value * 100).quantize(Decimal("0.01"))


def _met(total: Decimal | None, remaining: Decimal | None) -> Decimal | None:
    if total is None or remaining is None:
        return None
    return max(total - remaining, Decimal(0))


def _split(label: str, split: NetworkSplit, fmt: str = "${}") -> str | None:
    if split.out_of_network is None or split.out_of_network == split.in_network:
        return None
    return f"{label} out of network: {fmt.format(split.out_of_network)}"


def verification_fields(summary: VerificationSummary) -> dict:
    """The BenefitVerification fields a 271 answers (in-network values; the rest goes to notes)."""
    deductible = summary.deductible.in_network
    oop = summary.out_of_pocket.in_network
    notes = [
        f"Coverage {summary.coverage_status}"
        + (f", plan {summary.plan_name}" if summary.plan_name else "")
        + (f", group {summary.group_number}" if summary.group_number else "")
        + "."
    ]
    for label, level in (("IOP", summary.iop), ("PHP", summary.php)):
        if level.note:
            notes.append(f"{label}: {level.note}.")
    oon_coins = summary.coinsurance_percent.out_of_network
    extra = [
        _split("Copay", summary.copay),
        (
            f"Coinsurance out of network: {_percent(oon_coins)}%"
            if oon_coins is not None and oon_coins != summary.coinsurance_percent.in_network
            else None
        ),
        _split("Deductible", summary.deductible),
        _split("Out-of-pocket maximum", summary.out_of_pocket),
    ]
    notes += [line for line in extra if line]
    notes += [f"Payer message: {m}" for m in summary.messages]
    return {
        "coverage_active": {"active": "yes", "inactive": "no"}.get(summary.coverage_status, "unknown"),
        "iop_covered": yes_no_unknown(summary.iop_covered),
        "php_covered": yes_no_unknown(summary.php_covered),
        "copay_amount": summary.copay.in_network,
        "coinsurance_percent": _percent(summary.coinsurance_percent.in_network),
        "deductible_amount": deductible,
        "deductible_met": _met(deductible, summary.deductible_remaining.in_network),
        "out_of_pocket_max": oop,
        "out_of_pocket_met": _met(oop, summary.out_of_pocket_remaining.in_network),
        "prior_authorization_required": yes_no_unknown(summary.prior_authorization_required),
        # A 271 reports both networks' cost shares; whether this clinic is in network is the payer
        # contract's business, not the 271's, so it stays unknown until staff confirm it.
        "in_network": "unknown",
        "reference_number": (summary.reference_number or "")[:80],
        "notes": "\n".join(notes)[:2000],
    }


def summary_json(summary: VerificationSummary) -> dict:
    """A JSON-safe digest of the 271 for the check's record and its status page."""

    def money(split: NetworkSplit) -> dict:
        return {
            "in_network": None if split.in_network is None else str(split.in_network),
            "out_of_network": None if split.out_of_network is None else str(split.out_of_network),
        }

    def level(x) -> dict:
        return {
            "covered": x.covered,
            "basis": x.basis,
            "service_types": list(x.service_types),
            "authorization_required": x.authorization_required,
            "note": x.note,
            "carve_out": x.carve_out.name if x.carve_out else None,
        }

    return {
        "coverage_status": summary.coverage_status,
        "iop": level(summary.iop),
        "php": level(summary.php),
        "copay": money(summary.copay),
        "coinsurance": money(summary.coinsurance_percent),
        "deductible": money(summary.deductible),
        "deductible_remaining": money(summary.deductible_remaining),
        "out_of_pocket": money(summary.out_of_pocket),
        "out_of_pocket_remaining": money(summary.out_of_pocket_remaining),
        "prior_authorization_required": summary.prior_authorization_required,
        "plan_name": summary.plan_name,
        "group_number": summary.group_number,
        "effective_from": summary.effective_from.isoformat() if summary.effective_from else None,
        "effective_to": summary.effective_to.isoformat() if summary.effective_to else None,
        "reference_number": summary.reference_number,
        "messages": list(summary.messages),
    }


def benefit_rows(result) -> list[dict]:
    """The 271's EB loops as table rows (label, service types, amounts, network, auth, messages)."""
    rows = []
    for b in result.benefits:
        rows.append(
            {
                "label": b.label,
                "coverage_level": b.coverage_level or "",
                "service_types": ", ".join(b.service_type_labels),
                "time_period": b.time_period_label or "",
                "amount": None if b.amount is None else str(b.amount),
                "percent": None if b.percent is None else str(_percent(b.percent)),
                "quantity": None if b.quantity is None else str(b.quantity),
                "network": {True: "In network", False: "Out of network"}.get(b.in_network, ""),
                "authorization_required": b.authorization_required,
                "messages": list(b.messages),
                "contact": b.related_entities[0].name if b.related_entities else "",
            }
        )
    return rows


def rejection_rows(rejections) -> list[dict]:
    return [
        {
            "loop": r.loop,
            "code": r.reason_code,
            "reason": r.reason,
            "follow_up_code": r.follow_up_code,
            "follow_up": r.follow_up,
        }
        for r in rejections
    ]
