"""Parse an X12 271 (005010X279A1) into plain dataclasses and summarise it for a verification of benefits.

:func:`parse_271` validates the whole interchange first (:mod:`.x12.validate`); any syntax or validation error
raises (:class:`~.x12.tokens.X12SyntaxError` / :class:`~.x12.validate.X12ValidationError`, both carrying the
segment position) and nothing partial is returned. One 271 answers one inquiry: a file holding more than one
subscriber/patient is refused with a clear error (batch 271s are not handled yet).

Coverage rule for :func:`summarise_for_verification` (per level of care, IOP and PHP, each with its own set of
service type codes; the patient's EB loops only):

1. **specific**: an EB whose EB03 includes one of the level's service types and whose EB01 is active (1-5)
or a
   cost share (A co-insurance, B co-payment, C deductible, G out of pocket, F limitations) -> covered. An
   EB for
   those types with EB01 I (non-covered) or 6-8 (inactive) -> not covered, unless another EB says covered.
2. **carve-out**: otherwise an EB01 U (contact following entity) for those types or for a behavioural-health
   type (MH, A4, A8, AI, AK, CF, CH, CJ, BB, 30) -> unknown (``None``); the 2120 entity is returned so
   staff can
   call the behavioural-health plan.
3. **generic**: otherwise active coverage (EB01 1-5) with EB03 30 (or no EB03) -> covered, basis ``generic``:
   the plan is active but the payer named no IOP/PHP-specific benefit, so staff should confirm.
4. otherwise unknown (``None``); inactive coverage makes every answer ``False``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .x12 import spec_data as spec
from .x12.tokens import Segment, X12SyntaxError
from .x12.validate import LoopNode, Problem, X12ValidationError, check_transactions

IOP_SERVICE_TYPES = frozenset({"AI", "AK", "CJ", "CH", "CF"})
PHP_SERVICE_TYPES = frozenset({"BB"})
BH_CARVE_OUT_TYPES = frozenset({"30", "MH", "A4", "A8", "AI", "AJ", "AK", "CF", "CH", "CJ", "BB"})
_COST_SHARE = frozenset({"A", "B", "C", "G", "F"})

__all__ = [
    "Benefit",
    "DateValue",
    "EligibilityResult",
    "Entity",
    "Member",
    "Rejection",
    "VerificationSummary",
    "X12SyntaxError",
    "X12ValidationError",
    "parse_271",
    "summarise_for_verification",
]


@dataclass(frozen=True)
class DateValue:
    qualifier: str
    label: str
    start: dt.date
    end: dt.date | None = None  # set for RD8 ranges


@dataclass(frozen=True)
class Rejection:
    loop: str
    valid_request: bool
    reason_code: str
    reason: str
    follow_up_code: str
    follow_up: str
    position: int

    def __str__(self) -> str:
        return f"{self.reason} ({self.reason_code}) - {self.follow_up}"


@dataclass(frozen=True)
class Contact:
    name: str
    numbers: tuple[tuple[str, str], ...]  # (qualifier label, number)


@dataclass(frozen=True)
class Entity:
    entity_code: str
    entity_label: str
    name: str
    first_name: str = ""
    id_qualifier: str = ""
    identifier: str = ""
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True)
class Member:
    last_name: str
    first_name: str
    middle_name: str
    member_id: str
    date_of_birth: dt.date | None
    gender: str | None
    group_number: str | None
    group_name: str | None
    plan_number: str | None
    plan_name: str | None
    relationship: str | None
    references: tuple[tuple[str, str, str], ...]  # (qualifier, value, description)
    dates: tuple[DateValue, ...]


@dataclass(frozen=True)
class Benefit:
    loop: str
    position: int
    code: str
    label: str
    coverage_level: str | None
    service_types: tuple[str, ...]
    insurance_type: str | None
    plan_description: str | None
    time_period: str | None
    time_period_label: str | None
    amount: Decimal | None
    percent: Decimal | None
    quantity: Decimal | None
    quantity_qualifier: str | None
    authorization_required: bool | None  # EB11 Y/N, None for U or absent
    in_network: bool | None  # EB12 Y/N, None for U/W or absent
    network_code: str | None
    dates: tuple[DateValue, ...]
    messages: tuple[str, ...]
    related_entities: tuple[Entity, ...]
    references: tuple[tuple[str, str, str], ...]
    rejections: tuple[Rejection, ...]

    @property
    def service_type_labels(self) -> tuple[str, ...]:
        return tuple(spec.SERVICE_TYPES.get(c, c) for c in self.service_types)


@dataclass(frozen=True)
class EligibilityResult:
    interchange_control_number: str
    group_control_number: str
    transaction_control_number: str
    submitter_transaction_id: str
    created: dt.datetime | None
    payer: Entity
    provider: Entity | None
    subscriber: Member | None
    dependent: Member | None
    trace_number: str | None  # our TRN02 echoed back (TRN01 = 2)
    payer_trace_numbers: tuple[str, ...]  # the payer's own TRN (TRN01 = 1): a reference number for the record
    rejections: tuple[Rejection, ...]
    benefits: tuple[Benefit, ...]  # the patient's (the dependent's when 2000D is present)
    coverage_status: str  # active / inactive / unknown
    warnings: tuple[Problem, ...] = ()

    @property
    def patient(self) -> Member | None:
        return self.dependent or self.subscriber


def _date(value: str) -> dt.date:
    return dt.date(int(value[0:4]), int(value[4:6]), int(value[6:8]))


def _dtp(seg: Segment) -> DateValue:
    q, fmt, val = seg.get(1), seg.get(2), seg.get(3)
    label = spec.DTP_QUALIFIER.get(q, q)
    if fmt == "RD8":
        a, b = val.split("-")
        return DateValue(q, label, _date(a), _date(b))
    return DateValue(q, label, _date(val))


def _dec(value: str) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the validator already checked the number
        return None


def _rejection(seg: Segment, loop: str) -> Rejection:
    return Rejection(
        loop=loop,
        valid_request=seg.get(1) == "Y",
        reason_code=seg.get(3),
        reason=spec.REJECT_REASON.get(seg.get(3), seg.get(3)),
        follow_up_code=seg.get(4),
        follow_up=spec.FOLLOW_UP_ACTION.get(seg.get(4), seg.get(4)),
        position=seg.index,
    )


def _entity(nm1: Segment, pers: Iterable[Segment] = ()) -> Entity:
    contacts = []
    for per in pers:
        numbers = tuple(
            (spec.COMMUNICATION_QUALIFIER.get(per.get(p), per.get(p)), per.get(p + 1))
            for p in (3, 5, 7)
            if per.get(p)
        )
        contacts.append(Contact(per.get(2), numbers))
    return Entity(
        nm1.get(1),
        spec.ENTITY_IDENTIFIER.get(nm1.get(1), nm1.get(1)),
        nm1.get(3),
        nm1.get(4),
        nm1.get(8),
        nm1.get(9),
        tuple(contacts),
    )


def _member(node: LoopNode) -> Member:
    nm1 = node.first("NM1")
    refs = tuple((r.get(1), r.get(2), r.get(3)) for r in node.segments("REF"))
    group = next(((v, d) for q, v, d in refs if q in ("6P", "1L")), (None, None))
    plan = next(((v, d) for q, v, d in refs if q == "18"), (None, None))
    dmg = node.first("DMG")
    ins = node.first("INS")
    return Member(
        last_name=nm1.get(3),
        first_name=nm1.get(4),
        middle_name=nm1.get(5),
        member_id=nm1.get(9),
        date_of_birth=_date(dmg.get(2)) if dmg and dmg.get(2) else None,
        gender=(dmg.get(3) or None) if dmg else None,
        group_number=group[0],
        group_name=group[1] or None,
        plan_number=plan[0],
        plan_name=plan[1] or None,
        relationship=spec.RELATIONSHIP.get(ins.get(2), ins.get(2)) if ins else None,
        references=refs,
        dates=tuple(_dtp(d) for d in node.segments("DTP")),
    )


def _yes_no(value: str) -> bool | None:
    return True if value == "Y" else False if value == "N" else None


def _benefit(node: LoopNode) -> Benefit:
    eb = node.first("EB")
    entities = []
    for ent in node.loops():
        if ent.loop_id.startswith("2120"):
            entities.append(_entity(ent.first("NM1"), ent.segments("PER")))
    code = eb.get(1)
    return Benefit(
        loop=node.loop_id,
        position=eb.index,
        code=code,
        label=spec.EB01.get(code, code),
        coverage_level=eb.get(2) or None,
        service_types=tuple(eb.repeats(3)),
        insurance_type=eb.get(4) or None,
        plan_description=eb.get(5) or None,
        time_period=eb.get(6) or None,
        time_period_label=spec.TIME_PERIOD.get(eb.get(6)) if eb.get(6) else None,
        amount=_dec(eb.get(7)),
        percent=_dec(eb.get(8)),
        quantity=_dec(eb.get(10)),
        quantity_qualifier=eb.get(9) or None,
        authorization_required=_yes_no(eb.get(11)),
        in_network=_yes_no(eb.get(12)),
        network_code=eb.get(12) or None,
        dates=tuple(_dtp(d) for d in node.segments("DTP")),
        messages=tuple(m.get(1) for m in node.segments("MSG")),
        related_entities=tuple(entities),
        references=tuple((r.get(1), r.get(2), r.get(3)) for r in node.segments("REF")),
        rejections=tuple(_rejection(a, node.loop_id) for a in node.segments("AAA")),
    )


def _coverage_status(benefits: Iterable[Benefit]) -> str:
    codes = {b.code for b in benefits}
    if codes & spec.EB01_ACTIVE:
        return "active"
    if codes & spec.EB01_INACTIVE:
        return "inactive"
    return "unknown"


def parse_271(text: str | bytes) -> EligibilityResult:
    """Parse and validate a 271 interchange answering one inquiry. Raises on any syntax/validation error."""
    ix, trees, warnings = check_transactions(text, "271")
    if len(trees) != 1:
        raise X12ValidationError([Problem(None, "ST", f"expected one 271 transaction, found {len(trees)}")])
    root = trees[0]
    tx = ix.transactions[0]
    bht = root.first("BHT")
    created = None
    if bht is not None and bht.get(4):
        t = (bht.get(5) + "0000")[:4]
        created = dt.datetime.combine(_date(bht.get(4)), dt.time(int(t[:2]), int(t[2:4])))
    rejections: list[Rejection] = []
    source_loops = root.loops("2000A")
    if len(source_loops) != 1:
        raise X12ValidationError(
            [Problem(tx.st.index, "HL", "expected one information source (payer) level")]
        )
    src = source_loops[0]
    rejections += [_rejection(a, "2000A") for a in src.segments("AAA")]
    payer_node = src.loops("2100A")[0]
    payer = _entity(payer_node.first("NM1"), payer_node.segments("PER"))
    rejections += [_rejection(a, "2100A") for a in payer_node.segments("AAA")]
    receivers = src.loops("2000B")
    provider = None
    subscriber = dependent = None
    trace = None
    payer_traces: list[str] = []
    benefits: list[Benefit] = []
    subscribers = [s for r in receivers for s in r.loops("2000C")]
    if len(receivers) > 1 or len(subscribers) > 1:
        raise X12ValidationError(
            [
                Problem(
                    tx.st.index,
                    "HL",
                    "this 271 answers more than one patient; Stepdown reads one patient per response",
                )
            ]
        )
    if receivers:
        rnode = receivers[0].loops("2100B")[0]
        provider = _entity(rnode.first("NM1"))
        rejections += [_rejection(a, "2100B") for a in rnode.segments("AAA")]
    if subscribers:
        sub = subscribers[0]
        patient_level = sub
        deps = sub.loops("2000D")
        if len(deps) > 1:
            raise X12ValidationError(
                [
                    Problem(
                        deps[1].segments("HL")[0].index,
                        "HL",
                        "this 271 answers more than one dependent; one patient per response",
                    )
                ]
            )
        sub_name = sub.loops("2100C")[0]
        subscriber = _member(sub_name)
        rejections += [_rejection(a, "2100C") for a in sub_name.segments("AAA")]
        sub_benefits = [_benefit(b) for b in sub_name.loops("2110C")]
        traces = list(sub.segments("TRN"))
        if deps:
            patient_level = deps[0]
            dep_name = patient_level.loops("2100D")[0]
            dependent = _member(dep_name)
            rejections += [_rejection(a, "2100D") for a in dep_name.segments("AAA")]
            benefits = [_benefit(b) for b in dep_name.loops("2110D")] or sub_benefits
            traces += list(patient_level.segments("TRN"))
        else:
            benefits = sub_benefits
        for b in benefits:
            rejections += list(b.rejections)
        for t in traces:
            if t.get(1) == "2" and trace is None:
                trace = t.get(2)
            elif t.get(1) == "1":
                payer_traces.append(t.get(2))
    return EligibilityResult(
        interchange_control_number=ix.control_number,
        group_control_number=ix.groups[0].gs.get(6),
        transaction_control_number=tx.control_number,
        submitter_transaction_id=bht.get(3) if bht else "",
        created=created,
        payer=payer,
        provider=provider,
        subscriber=subscriber,
        dependent=dependent,
        trace_number=trace,
        payer_trace_numbers=tuple(payer_traces),
        rejections=tuple(rejections),
        benefits=tuple(benefits),
        coverage_status=_coverage_status(benefits),
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class LevelOfCareCoverage:
    covered: bool | None
    basis: str  # specific / generic / carve_out / inactive / none
    service_types: tuple[str, ...]  # the matched codes
    authorization_required: bool | None
    carve_out: Entity | None = None
    note: str = ""


@dataclass(frozen=True)
class NetworkSplit:
    in_network: Decimal | None = None
    out_of_network: Decimal | None = None


@dataclass(frozen=True)
class VerificationSummary:
    coverage_status: str
    iop: LevelOfCareCoverage
    php: LevelOfCareCoverage
    copay: NetworkSplit
    coinsurance_percent: NetworkSplit
    deductible: NetworkSplit
    deductible_remaining: NetworkSplit
    out_of_pocket: NetworkSplit
    out_of_pocket_remaining: NetworkSplit
    prior_authorization_required: bool | None
    plan_name: str | None
    group_number: str | None
    group_name: str | None
    effective_from: dt.date | None
    effective_to: dt.date | None
    reference_number: str | None
    trace_number: str | None
    rejections: tuple[Rejection, ...]
    messages: tuple[str, ...]

    @property
    def iop_covered(self) -> bool | None:
        return self.iop.covered

    @property
    def php_covered(self) -> bool | None:
        return self.php.covered


def _level(benefits: list[Benefit], types: frozenset[str], status: str) -> LevelOfCareCoverage:
    specific = [b for b in benefits if set(b.service_types) & types]
    matched = tuple(sorted({t for b in specific for t in b.service_types if t in types}))
    auth_values = [b.authorization_required for b in specific if b.authorization_required is not None]
    auth = True if True in auth_values else (False if auth_values else None)
    if status == "inactive":
        return LevelOfCareCoverage(False, "inactive", matched, auth, note="coverage is inactive")
    covered = [b for b in specific if b.code in spec.EB01_ACTIVE or b.code in _COST_SHARE]
    if covered:
        return LevelOfCareCoverage(True, "specific", matched, auth)
    denied = [b for b in specific if b.code == "I" or b.code in spec.EB01_INACTIVE]
    if denied:
        return LevelOfCareCoverage(False, "specific", matched, auth, note=denied[0].label)
    for b in benefits:
        if b.code == "U" and (set(b.service_types) & (types | BH_CARVE_OUT_TYPES) or not b.service_types):
            entity = b.related_entities[0] if b.related_entities else None
            who = f": contact {entity.name}" if entity else ""
            return LevelOfCareCoverage(
                None, "carve_out", matched, auth, entity, f"benefits are managed by another entity{who}"
            )
    generic = [
        b for b in benefits if b.code in spec.EB01_ACTIVE and (not b.service_types or "30" in b.service_types)
    ]
    if generic:
        return LevelOfCareCoverage(
            True,
            "generic",
            matched,
            auth,
            note="plan active (30); payer named no service-specific benefit - confirm",
        )
    return LevelOfCareCoverage(
        None, "none", matched, auth, note="no benefit information for this level of care"
    )


def _pick(
    benefits: list[Benefit], code: str, types: frozenset[str], *, remaining: bool | None, attr: str
) -> NetworkSplit:
    """In/out-of-network value of ``attr`` for EB01 ``code``: prefer the level's service types, then 30/none;
    prefer individual over family; EB12 W/U/absent counts for both networks when no specific row exists."""

    def relevant(b: Benefit) -> bool:
        if b.code != code or getattr(b, attr) is None:
            return False
        if remaining is True and b.time_period not in ("29", "33"):
            return False
        return not (remaining is False and b.time_period in ("29", "33"))

    rows = [b for b in benefits if relevant(b)]
    specific = [b for b in rows if set(b.service_types) & types]
    general = [b for b in rows if not b.service_types or "30" in b.service_types]
    pool = specific or general
    pool.sort(key=lambda b: 0 if b.coverage_level in (None, "IND", "EMP") else 1)

    def first(pred) -> Decimal | None:
        return next((getattr(b, attr) for b in pool if pred(b)), None)

    neutral = first(lambda b: b.network_code in (None, "W", "U"))
    inn = first(lambda b: b.network_code == "Y")
    oon = first(lambda b: b.network_code == "N")
    return NetworkSplit(inn if inn is not None else neutral, oon if oon is not None else neutral)


def summarise_for_verification(
    result: EligibilityResult,
    service_types: Iterable[str] | None = None,
    *,
    iop_service_types: Iterable[str] = IOP_SERVICE_TYPES,
    php_service_types: Iterable[str] = PHP_SERVICE_TYPES,
) -> VerificationSummary:
    """The fields a verification-of-benefits record needs (see the module docstring for the coverage rule).

    ``service_types`` chooses which EB rows' cost shares count as specific (default: IOP and PHP types).
    """
    iop_types, php_types = frozenset(iop_service_types), frozenset(php_service_types)
    cost_types = frozenset(service_types) if service_types is not None else iop_types | php_types
    benefits = list(result.benefits)
    iop = _level(benefits, iop_types, result.coverage_status)
    php = _level(benefits, php_types, result.coverage_status)
    auths = [x.authorization_required for x in (iop, php) if x.authorization_required is not None]
    patient = result.patient
    dates = {d.qualifier: d for d in (patient.dates if patient else ())}
    sub_dates = {d.qualifier: d for d in (result.subscriber.dates if result.subscriber else ())}
    dates = {**sub_dates, **dates}
    start = end = None
    for q in ("346", "356", "291", "307"):
        if q in dates:
            start = dates[q].start
            end = dates[q].end
            break
    for q in ("347", "357"):
        if q in dates and end is None:
            end = dates[q].start
    active = next((b for b in benefits if b.code in spec.EB01_ACTIVE), None)
    plan_name = (active.plan_description if active else None) or (patient.plan_name if patient else None)
    group_src = patient if patient and patient.group_number else result.subscriber
    return VerificationSummary(
        coverage_status=result.coverage_status,
        iop=iop,
        php=php,
        copay=_pick(benefits, "B", cost_types, remaining=None, attr="amount"),
        coinsurance_percent=_pick(benefits, "A", cost_types, remaining=None, attr="percent"),
        deductible=_pick(benefits, "C", cost_types, remaining=False, attr="amount"),
        deductible_remaining=_pick(benefits, "C", cost_types, remaining=True, attr="amount"),
        out_of_pocket=_pick(benefits, "G", cost_types, remaining=False, attr="amount"),
        out_of_pocket_remaining=_pick(benefits, "G", cost_types, remaining=True, attr="amount"),
        prior_authorization_required=(True if True in auths else False if auths else None),
        plan_name=plan_name,
        group_number=group_src.group_number if group_src else None,
        group_name=group_src.group_name if group_src else None,
        effective_from=start,
        effective_to=end,
        reference_number=result.payer_trace_numbers[0] if result.payer_trace_numbers else None,
        trace_number=result.trace_number,
        rejections=result.rejections,
        messages=tuple(m for b in benefits for m in b.messages),
    )
