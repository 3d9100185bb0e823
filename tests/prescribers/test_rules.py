"""The co-prescription rules (prescribers/rules.py). No database.

- Boundaries, one table for every rule: fires / does not fire on the day before an overlap and on an exact
  1-day overlap, MME exactly 50 and 49.99, 5 against 4 prescribers, the program's prescriber excluded,
  unknown keys, stopped and open-ended medicines, the recent-days window.
- The CDC opioid CDS IG's published Recommendation 11 examples (order-select and patient-view, with and
  without the second drug), translated into facts: see `test_cdc_rec11_example`.
- Dedup events: a refill that continues an overlap keeps its event, a gap makes a new one, the nightly
  run finds the same events as the on-save run, and reordering or splitting facts changes nothing
  (Hypothesis).
- Settings: a clinic may tighten every number and is refused, with a plain message, when it loosens one.
- Mutations: the boundary table is run against deliberately broken versions of the rules (an end-exclusive
  overlap, unconvertible MME counted as 0, the program's prescriber counted, > instead of ≥, an MPE window
  one day too long) and each must make a named case fail.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prescribers import drugs
from prescribers import rules as corx
from prescribers.rules import (
    AlcoholFact,
    CorxError,
    LooseningRefused,
    MedicationFact,
    PatientFacts,
    PlanFact,
    PlanStep,
    SettingsError,
)
from safety import rules_catalogue
from safety.findings import MAX_DEDUP_KEY, dedup_key

PID = "6f1c2a0e-8d3b-4c57-9a61-2b7e4f9d0c13"
TODAY = date(2026, 11, 20)
D = Decimal


def day(text: str) -> date:
    return date.fromisoformat(text)


def med(
    id: str,
    ingredient: str | None,
    start: str | date,
    end: str | date | None = None,
    *,
    kind: str = "medication",
    cls: str | None = None,
    mme: str | Decimal | None = None,
    daily: str | Decimal | None = None,
    prescriber: str | None = "npi-outside",
    pharmacy: str | None = "ncpdp-1",
    program: bool = False,
    indication: str = "",
) -> MedicationFact:
    known = drugs.by_ingredient(ingredient) if ingredient else None
    start = start if isinstance(start, date) else day(start)
    end = end if end is None or isinstance(end, date) else day(end)
    return MedicationFact(
        id=id,
        kind=kind,
        ingredient=ingredient,
        drug_class=cls or (known.drug_class if known else None),
        start=start,
        end=end,
        daily_amount=D(daily) if daily is not None else None,
        mme_per_day=D(mme) if mme is not None else None,
        prescriber_key=prescriber,
        prescriber_label=f"Dr {prescriber}" if prescriber else "",
        pharmacy_key=pharmacy,
        pharmacy_label=f"Pharmacy {pharmacy}" if pharmacy else "",
        program=program,
        label=f"{ingredient} ({kind} {id})",
        indication=indication,
    )


def fill(id: str, ingredient: str, start: str, end: str, **kw) -> MedicationFact:
    return med(id, ingredient, start, end, kind="dispensation", **kw)


def patient(*meds: MedicationFact, plan=None, alcohol=(), today=TODAY, excluded=()) -> PatientFacts:
    return PatientFacts(PID, today, tuple(meds), plan, tuple(alcohol), frozenset(excluded))


def plan(*steps: tuple[str, str | None, dict]) -> PlanFact:
    return PlanFact(
        "plan-1",
        "Diazepam taper",
        tuple(
            PlanStep(day(a), day(b) if b else None, {k: D(v) for k, v in doses.items()})
            for a, b, doses in steps
        ),
    )


def events(facts: PatientFacts, rule_id: str, thresholds=None) -> list[str]:
    return [
        f.event for f in corx.evaluate(facts, thresholds or corx.default_thresholds()) if f.rule_id == rule_id
    ]


def finding(facts: PatientFacts, rule_id: str, thresholds=None) -> corx.CoRxFinding:
    found = [f for f in corx.evaluate(facts, thresholds or corx.default_thresholds()) if f.rule_id == rule_id]
    assert len(found) == 1, found
    return found[0]


# --- the boundary table -------------------------------------------------------------------------------------

DIAZEPAM_PLAN = plan(
    ("2026-10-01", "2026-11-14", {"diazepam": "10"}), ("2026-11-15", None, {"diazepam": "7.5"})
)


def five_fills(*, n=5, last_offset=40, start="2026-09-01", changes=None) -> list[MedicationFact]:
    """n opioid/benzodiazepine fills from n prescribers at n pharmacies, the last `last_offset` days after the
    first; `changes` maps a fill index to keyword overrides."""
    first = day(start)
    offsets = [round(i * last_offset / max(n - 1, 1)) for i in range(n)]
    out = []
    for i, offset in enumerate(offsets):
        when = first + timedelta(days=offset)
        kw = {"prescriber": f"npi-{i}", "pharmacy": f"ncpdp-{i}", **(changes or {}).get(i, {})}
        drug = "oxycodone" if i % 2 == 0 else "alprazolam"
        out.append(fill(f"f{i}", drug, when.isoformat(), (when + timedelta(days=29)).isoformat(), **kw))
    return out


@dataclass(frozen=True)
class Case:
    name: str
    rule: str
    facts: PatientFacts
    expected: tuple[str, ...]
    check: Callable[[corx.CoRxFinding], bool] | None = None  # on the single finding, when one is expected
    thresholds: dict | None = None

    def failure(self) -> str | None:
        """Why the case does not hold, or None."""
        thresholds = corx.thresholds_for(self.thresholds)
        try:
            got = tuple(events(self.facts, self.rule, thresholds))
        except Exception as error:  # a mutant may crash
            return f"raised {error!r}"
        if got != self.expected:
            return f"{self.rule}: expected {self.expected}, got {got}"
        if self.check is not None:
            evidence = finding(self.facts, self.rule, thresholds)
            if not self.check(evidence):
                return f"{self.rule}: evidence check failed: {json.dumps(evidence.evidence)[:300]}"
        return None


BZD_OPIOID = "corx_benzo_opioid"
CASES = [
    # 1. benzodiazepine + opioid
    Case(
        "day before overlap",
        BZD_OPIOID,
        patient(
            med("b", "alprazolam", "2026-11-01", "2026-11-10"),
            med("o", "oxycodone", "2026-11-11", "2026-11-30"),
        ),
        (),
    ),
    Case(
        "exact 1-day overlap",
        BZD_OPIOID,
        patient(
            med("b", "alprazolam", "2026-11-01", "2026-11-10"),
            med("o", "oxycodone", "2026-11-10", "2026-11-30"),
        ),
        ("benzodiazepine+opioid:2026-11-10",),
        lambda f: f.evidence["days"] == 1 and f.evidence["episode_end_date"] == "2026-11-10",
    ),
    Case(
        "stopped benzodiazepine before the opioid",
        BZD_OPIOID,
        patient(med("b", "lorazepam", "2026-10-01", "2026-11-04"), med("o", "hydrocodone", "2026-11-05")),
        (),
    ),
    Case(
        "open-ended reported benzodiazepine with a fill",
        BZD_OPIOID,
        patient(
            med("b", "clonazepam", "2026-06-01", kind="reported"),
            fill("o", "oxycodone", "2026-11-02", "2026-12-01", mme="45"),
        ),
        ("benzodiazepine+opioid:2026-11-02",),
        lambda f: (
            [r["end"] for r in f.evidence["rows"]] == ["open", "2026-12-01"]
            and f.evidence["ongoing"] == "yes"
        ),
    ),
    Case(
        "overlap ended exactly recent_days ago is still reported",
        BZD_OPIOID,
        patient(
            med("b", "alprazolam", "2026-10-01", "2026-10-21"),
            med("o", "oxycodone", "2026-10-15", "2026-10-25"),
        ),
        ("benzodiazepine+opioid:2026-10-15",),
    ),
    Case(
        "overlap ended recent_days + 1 ago is not",
        BZD_OPIOID,
        patient(
            med("b", "alprazolam", "2026-10-01", "2026-10-20"),
            med("o", "oxycodone", "2026-10-15", "2026-10-25"),
        ),
        (),
    ),
    Case(
        "the taper plan counts as a benzodiazepine",
        BZD_OPIOID,
        patient(med("o", "tramadol", "2026-11-05", mme="20"), plan=DIAZEPAM_PLAN),
        ("benzodiazepine+opioid:2026-11-05",),
        lambda f: f.evidence["rows"][0]["kind"] == "program",
    ),
    Case(
        "a plan step at 0 mg is not a benzodiazepine",
        BZD_OPIOID,
        patient(med("o", "tramadol", "2026-11-05"), plan=plan(("2026-11-01", None, {"diazepam": "0"}))),
        (),
    ),
    Case(
        "an opioid starting tomorrow is not evaluated today",
        BZD_OPIOID,
        patient(med("b", "alprazolam", "2026-11-01"), med("o", "oxycodone", "2026-11-21")),
        (),
    ),
    Case(
        "methadone for OUD is not an opioid pain medicine",
        BZD_OPIOID,
        patient(med("b", "alprazolam", "2026-11-01"), med("m", "methadone", "2026-11-01", indication="oud")),
        (),
    ),
    # 2. MME levels
    Case(
        "MME exactly 50",
        "corx_mme_reassess",
        patient(med("o", "oxycodone", "2026-11-01", mme="50")),
        ("50:2026-11-01",),
        lambda f: f.evidence["total_text"] == "50 MME/day" and f.evidence["threshold"] == "50",
    ),
    Case("MME 49.99", "corx_mme_reassess", patient(med("o", "oxycodone", "2026-11-01", mme="49.99")), ()),
    Case(
        "MME 89.99 is not 90", "corx_mme_avoid", patient(med("o", "oxycodone", "2026-11-01", mme="89.99")), ()
    ),
    Case(
        "MME exactly 90",
        "corx_mme_avoid",
        patient(med("o", "oxycodone", "2026-11-01", mme="90")),
        ("90:2026-11-01",),
    ),
    Case(
        "MME is the sum of the opioids active on the same day",
        "corx_mme_reassess",
        patient(
            med("o1", "oxycodone", "2026-11-01", "2026-11-30", mme="30"),
            med("o2", "morphine", "2026-11-10", "2026-11-12", mme="20"),
        ),
        ("50:2026-11-10",),
        lambda f: f.evidence["episode_end_date"] == "2026-11-12" and f.evidence["ongoing"] == "no",
    ),
    Case(
        "unconvertible opioid with 55 known: at least 55",
        "corx_mme_reassess",
        patient(med("o1", "oxycodone", "2026-11-01", mme="55"), med("o2", "tramadol", "2026-11-01")),
        ("50:2026-11-01",),
        lambda f: (
            f.evidence["total_text"] == "at least 55 MME/day; 1 order could not be converted"
            and f.evidence["unconverted_orders"] == 1
            and any(r["mme"] == "not convertible" for r in f.evidence["rows"])
        ),
    ),
    Case(
        "unconvertible opioid below the level is undetermined, never 0",
        "corx_mme_unknown",
        patient(med("o1", "oxycodone", "2026-11-01", mme="30"), med("o2", "tramadol", "2026-11-03")),
        ("2026-11-03",),
        lambda f: f.evidence["total_text"] == "at least 30 MME/day; 1 order could not be converted",
    ),
    Case(
        "an opioid with no MME at all is undetermined",
        "corx_mme_unknown",
        patient(med("o2", "hydromorphone", "2026-11-03")),
        ("2026-11-03",),
        lambda f: "could not be converted" in f.evidence["total_text"] and f.evidence["total_mme"] == "0",
    ),
    Case(
        "MME known at the level is not undetermined",
        "corx_mme_unknown",
        patient(med("o1", "oxycodone", "2026-11-01", mme="50"), med("o2", "tramadol", "2026-11-01")),
        (),
    ),
    Case(
        "methadone for OUD is not counted in MME",
        "corx_mme_reassess",
        patient(med("m", "methadone", "2026-11-01", mme="282", indication="oud")),
        (),
    ),
    # 3. gabapentinoid, 4. Z-drug, 6. other CNS depressants
    Case(
        "benzodiazepine + gabapentin",
        "corx_benzo_gabapentinoid",
        patient(med("b", "diazepam", "2026-11-01"), med("g", "gabapentin", "2026-11-12", "2026-11-12")),
        ("benzodiazepine+gabapentinoid:2026-11-12",),
    ),
    Case(
        "gabapentin stopped the day before the benzodiazepine started",
        "corx_benzo_gabapentinoid",
        patient(med("g", "gabapentin", "2026-10-01", "2026-10-31"), med("b", "diazepam", "2026-11-01")),
        (),
    ),
    Case(
        "benzodiazepine + zolpidem",
        "corx_benzo_z_drug",
        patient(med("z", "zolpidem", "2026-11-08", kind="reported"), plan=DIAZEPAM_PLAN),
        ("benzodiazepine+z_drug:2026-11-08",),
    ),
    Case(
        "a plan that tapers both a benzodiazepine and a Z-drug is the psychiatrist's plan",
        "corx_benzo_z_drug",
        patient(plan=plan(("2026-11-01", None, {"diazepam": "5", "zolpidem": "5"}))),
        (),
    ),
    Case(
        "benzodiazepine + carisoprodol",
        "corx_benzo_cns_other",
        patient(med("b", "alprazolam", "2026-11-01"), med("c", "carisoprodol", "2026-11-02", "2026-11-09")),
        ("benzodiazepine+muscle_relaxant:2026-11-02",),
    ),
    Case(
        "benzodiazepine + naloxone is no finding",
        "corx_benzo_cns_other",
        patient(med("b", "alprazolam", "2026-11-01"), med("n", "naloxone", "2026-11-02")),
        (),
    ),
    # 5. a benzodiazepine outside the taper plan
    Case(
        "alprazolam outside a diazepam plan",
        "corx_benzo_outside_plan",
        patient(med("a", "alprazolam", "2026-11-10", kind="reported"), plan=DIAZEPAM_PLAN),
        ("alprazolam:2026-11-10",),
    ),
    Case(
        "the plan's own drug from another source is not outside the plan",
        "corx_benzo_outside_plan",
        patient(med("d", "diazepam", "2026-11-10", kind="reported"), plan=DIAZEPAM_PLAN),
        (),
    ),
    Case(
        "the old drug after the cross-titration",
        "corx_benzo_outside_plan",
        patient(
            med("a", "alprazolam", "2026-06-01"),
            plan=plan(
                ("2026-11-01", "2026-11-07", {"alprazolam": "1", "diazepam": "5"}),
                ("2026-11-08", "2026-11-14", {"alprazolam": "0", "diazepam": "10"}),
                ("2026-11-15", None, {"diazepam": "10"}),
            ),
        ),
        ("alprazolam:2026-11-08",),
    ),
    Case(
        "no plan, no outside-plan finding",
        "corx_benzo_outside_plan",
        patient(med("a", "alprazolam", "2026-11-10")),
        (),
    ),
    # 7. MOUD
    Case(
        "benzodiazepine + buprenorphine",
        "corx_benzo_moud",
        patient(med("bup", "buprenorphine", "2026-01-01"), plan=DIAZEPAM_PLAN),
        ("benzodiazepine+moud:2026-10-01",),
    ),
    Case(
        "benzodiazepine + methadone for OUD",
        "corx_benzo_moud",
        patient(med("b", "alprazolam", "2026-11-01"), med("m", "methadone", "2026-11-03", indication="oud")),
        ("benzodiazepine+moud:2026-11-03",),
    ),
    Case(
        "methadone for pain and naltrexone are not MOUD here",
        "corx_benzo_moud",
        patient(
            med("b", "alprazolam", "2026-11-01"),
            med("m", "methadone", "2026-11-03", mme="47"),
            med("n", "naltrexone", "2026-11-03"),
        ),
        (),
    ),
    # 8. alcohol
    Case(
        "alcohol on a benzodiazepine day",
        "corx_benzo_alcohol",
        patient(plan=DIAZEPAM_PLAN, alcohol=[AlcoholFact("c1", "checkin", day("2026-11-18"), "3 drinks")]),
        ("checkin:c1",),
    ),
    Case(
        "alcohol the day after the benzodiazepine stopped",
        "corx_benzo_alcohol",
        patient(
            med("b", "lorazepam", "2026-11-01", "2026-11-10"),
            alcohol=[AlcoholFact("c1", "checkin", day("2026-11-11"), "2 drinks")],
        ),
        (),
    ),
    Case(
        "alcohol reported at intake long ago",
        "corx_benzo_alcohol",
        patient(plan=DIAZEPAM_PLAN, alcohol=[AlcoholFact("i1", "intake", day("2026-10-02"), "daily wine")]),
        (),
    ),
    # 9. overlapping benzodiazepine fills from different prescribers
    Case(
        "fills from two prescribers overlapping by 1 day",
        "corx_benzo_fills_multi_prescriber",
        patient(
            fill("f1", "alprazolam", "2026-10-25", "2026-11-10", prescriber="npi-a"),
            fill("f2", "diazepam", "2026-11-10", "2026-12-09", prescriber="npi-b"),
        ),
        ("2026-11-10",),
    ),
    Case(
        "fills from two prescribers the day after",
        "corx_benzo_fills_multi_prescriber",
        patient(
            fill("f1", "alprazolam", "2026-10-25", "2026-11-09", prescriber="npi-a"),
            fill("f2", "diazepam", "2026-11-10", "2026-12-09", prescriber="npi-b"),
        ),
        (),
    ),
    Case(
        "overlapping fills from the same prescriber",
        "corx_benzo_fills_multi_prescriber",
        patient(
            fill("f1", "alprazolam", "2026-10-25", "2026-11-15", prescriber="npi-a"),
            fill("f2", "alprazolam", "2026-11-10", "2026-12-09", prescriber="npi-a"),
        ),
        (),
    ),
    Case(
        "an overlapping fill without a prescriber key is not compared",
        "corx_benzo_fills_multi_prescriber",
        patient(
            fill("f1", "alprazolam", "2026-10-25", "2026-11-15", prescriber="npi-a"),
            fill("f2", "alprazolam", "2026-11-10", "2026-12-09", prescriber=None),
        ),
        (),
    ),
    # 10. a fill above the taper step
    Case(
        "fill at the step's dose on the last day of the old step",
        "corx_fill_above_plan",
        patient(fill("x", "diazepam", "2026-11-14", "2026-12-13", daily="10"), plan=DIAZEPAM_PLAN),
        (),
    ),
    Case(
        "fill above the step on the first day of a lower step",
        "corx_fill_above_plan",
        patient(fill("x", "diazepam", "2026-11-15", "2026-12-14", daily="10"), plan=DIAZEPAM_PLAN),
        ("x",),
        lambda f: f.evidence["plan_mg_per_day"] == "7.5" and f.evidence["excess_mg_per_day"] == "2.5",
    ),
    Case(
        "fill exactly at the step",
        "corx_fill_above_plan",
        patient(fill("x", "diazepam", "2026-11-15", "2026-12-14", daily="7.5"), plan=DIAZEPAM_PLAN),
        (),
    ),
    Case(
        "fill with no daily amount cannot be compared",
        "corx_fill_above_plan",
        patient(fill("x", "diazepam", "2026-11-15", "2026-12-14"), plan=DIAZEPAM_PLAN),
        (),
    ),
    # 11. multiple-provider episodes
    Case(
        "5 prescribers and 5 pharmacies in 41 days",
        "corx_multiple_provider_episode",
        patient(*five_fills(), today=day("2026-10-20")),
        ("2026-10-11",),
        lambda f: f.evidence["prescribers_count"] == 5 and f.evidence["pharmacies_count"] == 5,
    ),
    Case(
        "4 prescribers",
        "corx_multiple_provider_episode",
        patient(*five_fills(changes={4: {"prescriber": "npi-0"}}), today=day("2026-10-20")),
        (),
    ),
    Case(
        "the 5th fill on day 90 of the window",
        "corx_multiple_provider_episode",
        patient(*five_fills(last_offset=89), today=day("2026-11-30")),
        ("2026-11-29",),
    ),
    Case(
        "the 5th fill on day 91",
        "corx_multiple_provider_episode",
        patient(*five_fills(last_offset=90), today=day("2026-11-30")),
        (),
    ),
    Case(
        "the program's prescriber is excluded",
        "corx_multiple_provider_episode",
        patient(*five_fills(), today=day("2026-10-20"), excluded={"npi-2"}),
        (),
    ),
    Case(
        "a fill marked as the program's own is excluded",
        "corx_multiple_provider_episode",
        patient(*five_fills(changes={3: {"program": True}}), today=day("2026-10-20")),
        (),
    ),
    Case(
        "an unknown prescriber key is not a distinct prescriber",
        "corx_multiple_provider_episode",
        patient(*five_fills(changes={1: {"prescriber": None}}), today=day("2026-10-20")),
        (),
    ),
    Case(
        "an unknown pharmacy key is not a distinct pharmacy",
        "corx_multiple_provider_episode",
        patient(*five_fills(n=6, changes={5: {"pharmacy": None}}), today=day("2026-10-20")),
        ("2026-10-03",),
        lambda f: f.evidence["fills_without_pharmacy"] == 0 and f.evidence["prescribers_count"] == 5,
    ),
    Case(
        "buprenorphine fills are not counted",
        "corx_multiple_provider_episode",
        patient(
            *[
                replace(f, ingredient="buprenorphine", drug_class="oud_medication") if i == 2 else f
                for i, f in enumerate(five_fills())
            ],
            today=day("2026-10-20"),
        ),
        (),
    ),
    Case(
        "an episode that ended before the recent window is not reported",
        "corx_multiple_provider_episode",
        patient(*five_fills(start="2026-03-01")),
        (),
    ),
    Case(
        "PQA: 4 and 4 in 180 days",
        "corx_multiple_provider_episode",
        patient(*five_fills(n=4, last_offset=150), today=day("2027-02-01")),
        ("2027-01-29",),
        thresholds={"mpe_definition": "pqa_4x4x180"},
    ),
    Case(
        "4 and 4 do not meet 5x5x90",
        "corx_multiple_provider_episode",
        patient(*five_fills(n=4, last_offset=50), today=day("2026-10-25")),
        (),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_boundary(case: Case):
    assert case.failure() is None


def test_the_table_covers_every_rule():
    assert {c.rule for c in CASES} == set(corx.rule_ids())
    for rule_id in corx.rule_ids():
        assert any(c.expected for c in CASES if c.rule == rule_id), f"{rule_id}: no case where it fires"
        assert any(not c.expected for c in CASES if c.rule == rule_id), (
            f"{rule_id}: no case where it does not"
        )


def test_unknown_pharmacy_is_said_in_the_evidence():
    facts = patient(*five_fills(changes={3: {"pharmacy": None}}), today=day("2026-10-20"))
    assert events(facts, "corx_multiple_provider_episode") == []
    mpe = corx.thresholds_for({"mpe_pharmacies_min": 4})
    evidence = finding(facts, "corx_multiple_provider_episode", mpe).evidence
    assert evidence["fills_without_pharmacy"] == 1 and evidence["pharmacies_count"] == 4
    assert "not counted as distinct" in evidence["note"]


def test_program_fills_are_counted_as_not_counted():
    facts = patient(*five_fills(n=6, changes={0: {"prescriber": "npi-program"}}), excluded={"npi-program"})
    facts = replace(facts, today=day("2026-10-20"))
    evidence = finding(facts, "corx_multiple_provider_episode").evidence
    assert evidence["program_fills_not_counted"] == 1
    assert "Dr npi-program" not in evidence["prescribers"]


def test_overlapping_fills_without_prescriber_are_counted_in_the_evidence():
    facts = patient(
        fill("f1", "alprazolam", "2026-10-25", "2026-11-15", prescriber="npi-a"),
        fill("f2", "alprazolam", "2026-11-10", "2026-12-09", prescriber="npi-b"),
        fill("f3", "alprazolam", "2026-11-12", "2026-12-09", prescriber=None),
    )
    evidence = finding(facts, "corx_benzo_fills_multi_prescriber").evidence
    assert evidence["fills_without_prescriber"] == 1 and evidence["prescribers"] == ["Dr npi-a", "Dr npi-b"]


def test_one_finding_per_other_cns_class():
    facts = patient(
        med("b", "alprazolam", "2026-11-01"),
        med("c", "cyclobenzaprine", "2026-11-02"),
        med("p", "butalbital", "2026-11-03"),
        med("q", "quetiapine", "2026-11-04"),
    )
    assert events(facts, "corx_benzo_cns_other") == [
        "benzodiazepine+muscle_relaxant:2026-11-02",
        "benzodiazepine+barbiturate:2026-11-03",
        "benzodiazepine+other_cns:2026-11-04",
    ]


def test_overlap_shorter_than_the_clinic_minimum_is_not_reported():
    facts = patient(med("b", "alprazolam", "2026-11-01", "2026-11-10"), med("o", "oxycodone", "2026-11-10"))
    assert events(facts, BZD_OPIOID) == ["benzodiazepine+opioid:2026-11-10"]
    # overlap_min_days can only be lowered (it is 1), so check the rule's own use of it directly:
    strict = replace(corx.default_thresholds(), overlap_min_days=2)
    assert events(facts, BZD_OPIOID, strict) == []
    longer = replace(facts, medications=(facts.medications[0], med("o", "oxycodone", "2026-11-09")))
    assert events(longer, BZD_OPIOID, strict) == ["benzodiazepine+opioid:2026-11-09"]


def test_plan_facts_are_one_program_fact_per_drug_and_step():
    made = corx.plan_facts(
        plan(
            ("2026-11-01", "2026-11-07", {"alprazolam": "1", "diazepam": "5"}),
            ("2026-11-08", None, {"diazepam": "10"}),
        )
    )
    assert [(f.id, f.kind, f.drug_class, f.end) for f in made] == [
        ("plan:plan-1:2026-11-01:alprazolam", "program", "benzodiazepine", day("2026-11-07")),
        ("plan:plan-1:2026-11-01:diazepam", "program", "benzodiazepine", day("2026-11-07")),
        ("plan:plan-1:2026-11-08:diazepam", "program", "benzodiazepine", None),
    ]
    assert all(f.program for f in made)
    unknown = corx.plan_facts(plan(("2026-11-01", None, {"quazepam": "15"})))
    assert unknown[0].drug_class == "benzodiazepine"  # the taper catalogue holds only benzos and Z-drugs


def test_overlapping_plan_steps_are_refused():
    with pytest.raises(CorxError, match="overlaps"):
        plan(("2026-11-01", "2026-11-10", {"diazepam": "5"}), ("2026-11-10", None, {"diazepam": "4"}))
    with pytest.raises(CorxError, match="overlaps"):
        plan(("2026-11-01", None, {"diazepam": "5"}), ("2026-11-10", None, {"diazepam": "4"}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "pdmp"}, "kind"),
        ({"drug_class": "stimulant"}, "drug class"),
        ({"end": day("2026-10-01")}, "ends"),
        ({"mme_per_day": 1.5}, "mme_per_day"),
        ({"daily_amount": "-1"}, "daily_amount"),
    ],
)
def test_malformed_facts_are_refused(change, message):
    base = med("b", "alprazolam", "2026-11-01", "2026-11-10")
    with pytest.raises(CorxError, match=message):
        replace(base, **change)


def test_a_fact_listed_twice_is_refused():
    with pytest.raises(CorxError, match="twice"):
        patient(med("b", "alprazolam", "2026-11-01"), med("b", "alprazolam", "2026-11-02"))


# --- the CDC opioid CDS IG's Recommendation 11 examples ----------------------------------------------------

# Every example's dataDateRoller "dateLastUpdated": the day its dates are relative to.
IG_TODAY = date(2023, 5, 1)


def ig_request(rx_id: str, drug: str, authored: str, *, to_validity_end: str | None) -> MedicationFact:
    """One of the examples' MedicationRequests: status active, category community, one unit a day."""
    mg, mme = {"flurazepam": (D(15), None), "oxycodone": (D(10), D(15))}[drug]
    end = day(to_validity_end) - timedelta(days=1) if to_validity_end else None
    text = {
        "flurazepam": "Flurazepam Hydrochloride 15 MG Oral Capsule (RxNorm 1298088), 1 capsule daily",
        "oxycodone": "12 HR Oxycodone HCl 10 MG Extended Release Oral Tablet (RxNorm 1049502), 1 daily",
    }[drug]
    return MedicationFact(
        id=f"MedicationRequest/{rx_id}",
        kind="medication",
        ingredient=drug,
        drug_class=drugs.by_ingredient(drug).drug_class,
        start=day(authored),
        end=end,
        daily_amount=mg,
        mme_per_day=mme,  # CDC 2022: oxycodone 10 mg/day times 1.5
        prescriber_key=None,  # the examples' requests name no requester
        prescriber_label="",
        pharmacy_key=None,
        pharmacy_label="",
        program=False,
        label=text,
    )


# Each example: (hook, file, the draft order for order-select, the prefetched active requests, expected card).
# Every MedicationRequest is status "active", category "community", authoredOn and validityPeriod as below.
IG = "cqframework/opioid-cds-r4@b29bdcbf6db6f3de26486dbc3820572ee9a78b89 input/images/"
IG_EXAMPLES = [
    (
        "order-select",
        "requests/OpioidCDSREC11/request-example-rec-11-benzo-trigger-with-opioid.json",
        ("example-rec-11-benzo-trigger-with-opioid-context", "flurazepam", "2023-05-01", "2023-08-01"),
        [("example-rec-11-benzo-trigger-with-opioid-prefetch", "oxycodone", "2023-04-16", "2023-07-17")],
        True,
    ),
    (
        "order-select",
        "requests/OpioidCDSREC11/request-example-rec-11-benzo-trigger-without-opioid.json",
        ("example-rec-11-benzo-trigger-without-opioid-context", "flurazepam", "2023-05-01", "2023-08-01"),
        [],
        False,
    ),
    (
        "order-select",
        "requests/OpioidCDSREC11/request-example-rec-11-opioid-trigger-with-benzo.json",
        ("example-rec-11-opioid-trigger-with-benzo-context", "oxycodone", "2023-05-01", "2023-08-01"),
        [("example-rec-11-opioid-trigger-with-benzo-prefetch", "flurazepam", "2023-03-20", "2023-07-16")],
        True,
    ),
    (
        "order-select",
        "requests/OpioidCDSREC11/request-example-rec-11-opioid-trigger-without-benzo.json",
        ("example-rec-11-opioid-trigger-without-benzo-context", "oxycodone", "2023-05-01", "2023-08-01"),
        [],
        False,
    ),
    (
        "patient-view",
        "requests/OpioidCDSREC11PatientView/request-example-rec-11-patient-view-benzo-trigger-with-opioid.json",
        None,
        [
            ("example-rec-11-benzo-trigger-with-opioid-context", "flurazepam", "2023-05-01", "2023-08-01"),
            ("example-rec-11-benzo-trigger-with-opioid-prefetch", "oxycodone", "2023-03-31", "2023-07-01"),
        ],
        True,
    ),
    (
        "patient-view",
        "requests/OpioidCDSREC11PatientView/request-example-rec-11-patient-view-benzo-trigger-without-opioid.json",
        None,
        [("example-rec-11-benzo-trigger-without-opioid-context", "flurazepam", "2023-05-01", "2023-08-01")],
        False,
    ),
    (
        "patient-view",
        "requests/OpioidCDSREC11PatientView/request-example-rec-11-patient-view-opioid-trigger-with-benzo.json",
        None,
        [
            ("example-rec-11-opioid-trigger-with-benzo-prefetch", "flurazepam", "2023-03-31", "2023-07-01"),
            ("example-rec-11-opioid-trigger-with-benzo-context", "oxycodone", "2023-05-01", "2023-08-01"),
        ],
        True,
    ),
    (
        "patient-view",
        "requests/OpioidCDSREC11PatientView/request-example-rec-11-patient-view-opioid-trigger-without-benzo.json",
        None,
        [("example-rec-11-opioid-trigger-without-benzo-context", "oxycodone", "2023-05-01", "2023-08-01")],
        False,
    ),
]


@pytest.mark.parametrize("end_from", ["status active (open)", "validity period"])
@pytest.mark.parametrize(
    ("hook", "path", "draft", "active", "card"),
    IG_EXAMPLES,
    ids=[e[1].rsplit("/", 1)[1] for e in IG_EXAMPLES],
)
def test_cdc_rec11_example(hook, path, draft, active, card, end_from):
    """The CDC opioid CDS IG (github cqframework/opioid-cds-r4 at b29bdcbf, 2025-09-26) publishes a CDS Hooks
    request and its expected response for each Rec. 11 example:
      input/images/requests/OpioidCDSREC11/request-example-rec-11-{benzo-trigger-with-opioid,
        benzo-trigger-without-opioid, opioid-trigger-with-benzo, opioid-trigger-without-benzo}.json
      input/images/requests/OpioidCDSREC11PatientView/request-example-rec-11-patient-view-{…same four}.json
    with the responses under input/images/responses/… (response-example-…): one "warning" card ("Avoid
    prescribing opioid pain medication and benzodiazepine concurrently whenever possible.") for "with", and
    {"cards": []} for "without". Logic: input/cql/OpioidCDSREC11OrderSelect.cql / …PatientView.cql (an
    active community benzodiazepine or CNS-depressant request together with an active community opioid
    request; order-select: the draft order is one of them).

    Translation: each MedicationRequest is a MedicationFact of kind "medication" starting on authoredOn.
    The IG treats status "active" as current, so the end is open; the second parametrization ends it the day
    before validityPeriod.end (a midnight instant) instead — the cards must not depend on that choice.
    today = 2023-05-01, the examples' dataDateRoller date. The patient (born 2003-05-01) is an adult with none
    of the IG's exclusions (cancer, sickle cell, end of life), which Stepdown does not model. Order-select is
    check_order with the draft order; patient-view is evaluate. The expected card is exactly one
    corx_benzo_opioid finding and nothing else (oxycodone 10 mg/day is 15 MME/day, below 50)."""
    use_validity = end_from == "validity period"

    def fact(rx_id, drug, authored, validity_end):
        return ig_request(rx_id, drug, authored, to_validity_end=validity_end if use_validity else None)

    facts = PatientFacts(
        patient_id=str(uuid.uuid5(uuid.NAMESPACE_URL, path)),
        today=IG_TODAY,
        medications=tuple(fact(*rx) for rx in active),
        plan=None,
        alcohol=(),
    )
    if hook == "order-select":
        found = corx.check_order(facts, fact(*draft), corx.default_thresholds())
    else:
        found = corx.evaluate(facts, corx.default_thresholds())
    assert [f.rule_id for f in found] == ([BZD_OPIOID] if card else []), IG + path
    if card:
        assert found[0].event == "benzodiazepine+opioid:2023-05-01"
        assert {r["drug"] for r in found[0].evidence["rows"]} == {"flurazepam", "oxycodone"}


def test_order_select_reports_only_what_the_order_newly_causes():
    base = patient(
        med("b", "alprazolam", "2026-11-01"), fill("o", "oxycodone", "2026-11-01", "2026-11-30", mme="30")
    )
    assert events(base, BZD_OPIOID) == ["benzodiazepine+opioid:2026-11-01"]
    refill = fill("o2", "oxycodone", "2026-12-01", "2026-12-30", mme="30")
    assert corx.check_order(base, refill) == []  # continues the overlap already alerted
    bigger = med("o3", "morphine", "2026-11-20", "2026-12-19", mme="30")
    assert [(f.rule_id, f.event) for f in corx.check_order(base, bigger)] == [
        ("corx_mme_reassess", "50:2026-11-20")
    ]
    later = med("g", "pregabalin", "2026-11-27", "2026-12-26")
    found = corx.check_order(base, later)
    assert [(f.rule_id, f.event) for f in found] == [
        ("corx_benzo_gabapentinoid", "benzodiazepine+gabapentinoid:2026-11-27")
    ]


def test_order_select_edit_replaces_the_saved_fact():
    base = patient(med("b", "alprazolam", "2026-11-01"), med("o", "oxycodone", "2026-11-01", mme="30"))
    edited = med("o", "oxycodone", "2026-11-01", mme="60")
    assert [f.rule_id for f in corx.check_order(base, edited)] == ["corx_mme_reassess"]


# --- dedup events -------------------------------------------------------------------------------------------


def _opioid_fills(*spans: tuple[str, str]) -> list[MedicationFact]:
    return [fill(f"o{i}", "oxycodone", a, b, mme="20") for i, (a, b) in enumerate(spans)]


def test_a_refill_that_continues_the_overlap_keeps_the_event():
    benzo = med("b", "clonazepam", "2026-01-01", kind="reported")
    one = patient(benzo, *_opioid_fills(("2026-10-01", "2026-10-30")), today=day("2026-10-15"))
    two = patient(
        benzo,
        *_opioid_fills(("2026-10-01", "2026-10-30"), ("2026-10-31", "2026-11-29")),
        today=day("2026-11-20"),
    )
    early = patient(
        benzo,
        *_opioid_fills(("2026-10-01", "2026-10-30"), ("2026-10-27", "2026-11-25")),
        today=day("2026-11-20"),
    )
    assert events(one, BZD_OPIOID) == events(two, BZD_OPIOID) == events(early, BZD_OPIOID)
    assert events(two, BZD_OPIOID) == ["benzodiazepine+opioid:2026-10-01"]


def test_an_overlap_after_a_gap_is_a_new_event():
    benzo = med("b", "clonazepam", "2026-01-01", kind="reported")
    gap = patient(benzo, *_opioid_fills(("2026-10-01", "2026-10-30"), ("2026-11-01", "2026-11-30")))
    assert events(gap, BZD_OPIOID) == ["benzodiazepine+opioid:2026-10-01", "benzodiazepine+opioid:2026-11-01"]
    later = replace(gap, today=day("2026-12-15"))
    assert events(later, BZD_OPIOID) == ["benzodiazepine+opioid:2026-11-01"]  # the first is no longer recent


def test_every_nightly_run_finds_the_same_events():
    facts = patient(
        med("b", "alprazolam", "2026-06-01"),
        med("o", "oxycodone", "2026-09-01", mme="60"),
        med("g", "gabapentin", "2026-10-01"),
        plan=DIAZEPAM_PLAN,
    )
    runs = [
        {(f.rule_id, f.event) for f in corx.evaluate(replace(facts, today=TODAY + timedelta(days=n)))}
        for n in range(0, 60, 7)
    ]
    assert all(run == runs[0] for run in runs) and len(runs[0]) >= 4


def test_plan_step_changes_and_cross_titration_keep_the_event():
    opioid = med("o", "tramadol", "2026-11-03", mme="20")
    switch = plan(
        ("2026-11-01", "2026-11-07", {"alprazolam": "1", "diazepam": "5"}),
        ("2026-11-08", "2026-11-14", {"diazepam": "10"}),
        ("2026-11-15", None, {"diazepam": "9"}),
    )
    assert events(patient(opioid, plan=switch), BZD_OPIOID) == ["benzodiazepine+opioid:2026-11-03"]


def test_events_fit_the_dedup_key_with_a_uuid_patient():
    long_id = "dispensation:" + "x" * 300
    facts = patient(fill(long_id, "diazepam", "2026-11-15", "2026-12-14", daily="20"), plan=DIAZEPAM_PLAN)
    (found,) = [f for f in corx.evaluate(facts) if f.rule_id == "corx_fill_above_plan"]
    key = dedup_key(found.rule_id, uuid.UUID(PID), found.event)
    assert len(key) <= MAX_DEDUP_KEY
    assert found.event != long_id and found.event == corx.fit_event(found.rule_id, long_id)  # stable
    assert corx.fit_event("corx_fill_above_plan", "short-id") == "short-id"


# --- properties ---------------------------------------------------------------------------------------------

START = date(2026, 8, 1)
INGREDIENTS = ["alprazolam", "diazepam", "oxycodone", "tramadol", "gabapentin", "zolpidem", "carisoprodol"]


@st.composite
def medication(draw, n: int) -> MedicationFact:
    first = START + timedelta(days=draw(st.integers(0, 120)))
    length = draw(st.one_of(st.none(), st.integers(0, 60)))
    ingredient = draw(st.sampled_from(INGREDIENTS))
    return med(
        f"m{n}",
        ingredient,
        first,
        None if length is None else first + timedelta(days=length),
        kind=draw(st.sampled_from(["dispensation", "medication", "reported"])),
        mme=draw(st.one_of(st.none(), st.sampled_from(["10", "25", "49.99", "50", "90"]))),
        daily=draw(st.one_of(st.none(), st.sampled_from(["5", "10"]))),
        prescriber=draw(st.one_of(st.none(), st.sampled_from([f"npi-{i}" for i in range(6)]))),
        pharmacy=draw(st.one_of(st.none(), st.sampled_from([f"ncpdp-{i}" for i in range(6)]))),
    )


@st.composite
def patients(draw) -> PatientFacts:
    n = draw(st.integers(0, 9))
    meds = [draw(medication(i)) for i in range(n)]
    steps = None
    if draw(st.booleans()):
        steps = plan(
            ("2026-09-01", "2026-10-14", {"diazepam": "10"}), ("2026-10-15", None, {"diazepam": "7.5"})
        )
    alcohol = [
        AlcoholFact(f"a{i}", "checkin", START + timedelta(days=draw(st.integers(0, 120))), "drinks")
        for i in range(draw(st.integers(0, 2)))
    ]
    today = START + timedelta(days=draw(st.integers(60, 150)))
    return patient(*meds, plan=steps, alcohol=alcohol, today=today)


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(patients(), st.randoms())
def test_reordering_facts_never_changes_the_findings(facts, rnd):
    shuffled = list(facts.medications)
    rnd.shuffle(shuffled)
    drinks = list(facts.alcohol)
    rnd.shuffle(drinks)
    other = replace(facts, medications=tuple(shuffled), alcohol=tuple(drinks))
    assert corx.evaluate(other) == corx.evaluate(facts)


EPISODE_RULES = {
    "corx_benzo_opioid",
    "corx_mme_reassess",
    "corx_mme_avoid",
    "corx_mme_unknown",
    "corx_benzo_gabapentinoid",
    "corx_benzo_z_drug",
    "corx_benzo_cns_other",
    "corx_benzo_moud",
    "corx_benzo_outside_plan",
    "corx_benzo_fills_multi_prescriber",
}


@PROPS
@given(patients(), st.data())
def test_splitting_a_supply_into_refills_never_changes_an_episode_event(facts, data):
    """A 60-day supply filled as two 30-day fills back to back is the same episode."""
    candidates = [m for m in facts.medications if m.end is not None and m.end > m.start]
    if not candidates:
        return
    target = data.draw(st.sampled_from(candidates))
    cut = target.start + timedelta(days=data.draw(st.integers(0, (target.end - target.start).days - 1)))
    first = replace(target, end=cut)
    second = replace(target, id=target.id + "-refill", start=cut + timedelta(days=1))
    kept = tuple(m for m in facts.medications if m is not target)
    split = replace(facts, medications=(*kept, first, second))

    def episodes(f: PatientFacts) -> set[tuple[str, str]]:
        return {(x.rule_id, x.event) for x in corx.evaluate(f) if x.rule_id in EPISODE_RULES}

    assert episodes(split) == episodes(facts)


def _only_json_types(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_json_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_json_types(v) for v in value)
    return isinstance(value, str | int) and not isinstance(value, bool)


@PROPS
@given(patients())
def test_findings_are_json_with_a_fitting_key_and_a_catalogue_rule(facts):
    for found in corx.evaluate(facts):
        assert _only_json_types(found.evidence), found.evidence
        json.dumps(found.evidence)
        assert len(dedup_key(found.rule_id, uuid.UUID(PID), found.event)) <= MAX_DEDUP_KEY
        assert rules_catalogue.rule(found.rule_id).category == "medication"
        assert found.evidence["status"] in ("V", "S", "U") and found.evidence["source"]


@PROPS
@given(patients(), medication(99))
def test_check_order_finds_exactly_the_new_events(facts, proposed):
    """What the form warns about is what saving the order would add (evaluated to the order's last day)."""
    horizon = max(facts.today, proposed.end or proposed.start)
    saved = replace(facts, medications=(*facts.medications, proposed))
    before = {(f.rule_id, f.event) for f in corx._evaluate(facts, corx.default_thresholds(), horizon)}
    after = {(f.rule_id, f.event) for f in corx._evaluate(saved, corx.default_thresholds(), horizon)}
    assert {(f.rule_id, f.event) for f in corx.check_order(facts, proposed)} == after - before


# --- settings: tighten, never loosen ------------------------------------------------------------------------


def test_defaults_come_from_the_data():
    t = corx.thresholds_for()
    assert (t.mme_reassess, t.mme_avoid, t.recent_days, t.overlap_min_days) == (D(50), D(90), 30, 1)
    assert (t.mpe.name, t.mpe.prescribers_min, t.mpe.pharmacies_min, t.mpe.window_days) == (
        "5x5x90",
        5,
        5,
        90,
    )
    assert t.mpe.classes == {"opioid", "benzodiazepine", "z_drug", "barbiturate"}
    assert t.tightened == ()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mme_reassess": 60}, r"60 would be looser than the reference value of 50"),
        ({"mme_avoid": "120"}, r"120 would be looser than the reference value of 90"),
        ({"mpe_prescribers_min": 6}, r"prescribers \(5x5x90\) of 6 would be looser"),
        ({"mpe_pharmacies_min": 6}, r"pharmacies \(5x5x90\) of 6 would be looser"),
        ({"mpe_window_days": 60}, r"60-day window would be looser than the 90 days"),
        (
            {"mpe_definition": "pqa_4x4x180", "mpe_window_days": 90},
            r"looser than the 180 days of pqa_4x4x180",
        ),
        ({"mpe_definition": "pqa_4x4x180", "mpe_prescribers_min": 5}, r"of 5 would be looser .* 4"),
        ({"mpe_classes": ["opioid", "z_drug", "barbiturate"]}, r"Leaving out benzodiazepine"),
        ({"recent_days": 14}, r"Looking back 14 days would be looser than the default 30"),
        ({"overlap_min_days": 2}, r"of 2 would be looser than the reference value of 1"),
    ],
)
def test_loosening_is_refused_with_a_plain_message(overrides, message):
    with pytest.raises(LooseningRefused, match=message) as refused:
        corx.thresholds_for(overrides)
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mme_limit": 40}, "unknown co-prescription setting"),
        ({"mme_reassess": True}, "must be a Decimal"),
        ({"mme_reassess": 1.5}, "must be a Decimal"),
        ({"mme_avoid": 40}, "must not be above the 'avoid' level"),
        ({"mpe_prescribers_min": 1}, "at least 2"),
        ({"mpe_definition": "4x4x90"}, "is not one of: 5x5x90, pqa_4x4x180"),
        ({"mpe_window_days": 1000}, "at most 730"),
        ({"mpe_classes": "opioid"}, "a list of drug classes"),
        (
            {"mpe_classes": ["opioid", "benzodiazepine", "z_drug", "barbiturate", "stimulant"]},
            "unknown drug class",
        ),
        ({"recent_days": 400}, "at most 365"),
        ({"recent_days": "a month"}, "whole number"),
    ],
)
def test_malformed_settings_are_refused(overrides, message):
    with pytest.raises(SettingsError, match=message) as refused:
        corx.thresholds_for(overrides)
    assert not isinstance(refused.value, LooseningRefused)


def test_tightening_works():
    t = corx.thresholds_for(
        {
            "mme_reassess": "40",
            "mme_avoid": 80,
            "mpe_prescribers_min": 3,
            "mpe_pharmacies_min": 3,
            "mpe_window_days": 120,
            "mpe_classes": ["opioid", "benzodiazepine", "z_drug", "barbiturate", "gabapentinoid"],
            "recent_days": 60,
            "overlap_min_days": 1,
            "mpe_definition": None,  # not set
        }
    )
    assert (t.mme_reassess, t.mme_avoid, t.recent_days) == (D(40), D(80), 60)
    assert (t.mpe.prescribers_min, t.mpe.pharmacies_min, t.mpe.window_days) == (3, 3, 120)
    assert "gabapentinoid" in t.mpe.classes and "mpe_definition" not in t.tightened
    at_40 = patient(med("o", "oxycodone", "2026-11-01", mme="40"))
    assert events(at_40, "corx_mme_reassess", t) == ["40:2026-11-01"]
    assert finding(at_40, "corx_mme_reassess", t).evidence["guideline_threshold"] == "50"
    assert events(at_40, "corx_mme_reassess") == []
    three = patient(*five_fills(n=3, last_offset=100), today=day("2026-12-20"))
    assert events(three, "corx_multiple_provider_episode", t) == ["2026-12-10"]
    old = patient(
        med("b", "alprazolam", "2026-09-01", "2026-10-01"), med("o", "oxycodone", "2026-09-20", "2026-10-01")
    )
    assert events(old, BZD_OPIOID) == [] and events(old, BZD_OPIOID, t) == [
        "benzodiazepine+opioid:2026-09-20"
    ]


def test_pqa_definition_can_be_selected_and_tightened():
    t = corx.thresholds_for(
        {"mpe_definition": "pqa_4x4x180", "mpe_window_days": 200, "mpe_pharmacies_min": 3}
    )
    assert (t.mpe.name, t.mpe.prescribers_min, t.mpe.pharmacies_min, t.mpe.window_days) == (
        "pqa_4x4x180",
        4,
        3,
        200,
    )


# --- the data and the catalogue -----------------------------------------------------------------------------


def test_every_rule_is_in_the_alert_catalogue_as_a_medication_rule():
    assert "medication" in rules_catalogue.CATEGORIES
    for rule_id in corx.rule_ids():
        entry = rules_catalogue.rule(rule_id)
        assert entry.category == "medication" and entry.what_to_do and entry.criteria
        assert entry.status == next(r.status for r in corx.spec().rules if r.id == rule_id), rule_id
        assert len(entry.citation) <= 1000, rule_id  # Alert.source holds 1000 characters
    catalogued = {r.id for r in rules_catalogue.all_rules() if r.id.startswith("corx_")}
    assert catalogued == set(corx.rule_ids())


def test_severities_and_wording_the_sources_require():
    rule = rules_catalogue.rule
    assert rule("corx_benzo_opioid").severity == "high"
    assert rule("corx_mme_avoid").severity == "high" and rule("corx_mme_reassess").severity == "moderate"
    moud = rule("corx_benzo_moud")
    assert moud.severity == "low" and "do not withhold" in moud.what_to_do.lower()
    assert "2017" in moud.source
    gaba = rule("corx_benzo_gabapentinoid")
    assert "not boxed" in gaba.source and "not a boxed warning" in gaba.what_to_do
    z = rule("corx_benzo_z_drug")
    assert z.status == "S" and "No FDA or CDC text" in z.source and "2019-04-30" in z.source
    assert rule("corx_benzo_alcohol").status == "S" and "alcohol" in rule("corx_benzo_alcohol").source
    for rule_id in ("corx_benzo_outside_plan", "corx_fill_above_plan", "corx_mme_unknown"):
        assert rule(rule_id).status == "U" and "policy" in rule(rule_id).source.lower()
    mpe = rule("corx_multiple_provider_episode")
    assert "Delcher" in mpe.source and "buprenorphine" in mpe.source and "program policy" in mpe.source


def test_every_setting_has_a_source_and_a_status():
    raw = json.loads(corx.DATA.read_text(encoding="utf-8"))
    for name, setting in raw["settings"].items():
        assert setting["status"] in ("V", "S", "U") and setting["source"], name
    assert raw["settings"]["recent_days"]["status"] == "U"
    assert raw["settings"]["overlap_min_days"]["status"] == "U"
    for name, definition in raw["mpe"]["definitions"].items():
        assert definition["status"] in ("V", "S", "U") and definition["source"], name
    assert raw["mpe"]["definitions"]["5x5x90"]["status"] == "V"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d["rules"][0].update(id="benzo_opioid"), "must start with corx_"),
        (lambda d: d["rules"].append(dict(d["rules"][0])), "unique"),
        (lambda d: d["rules"][0].update(kind="magic"), "kind"),
        (lambda d: d["rules"][0].update(right=["stimulant"]), "pair rule"),
        (lambda d: d["rules"][0].update(status="X"), "status"),
        (lambda d: d["settings"]["recent_days"].update(source=""), "source"),
        (lambda d: d["mpe"]["counted_classes"].update(value=["opioid", "stimulant"]), "unknown"),
        (lambda d: d["mpe"].update(default="6x6x180"), "mpe.default"),
    ],
)
def test_malformed_rules_data_is_refused(change, message):
    raw = json.loads(corx.DATA.read_text(encoding="utf-8"))
    change(raw)
    with pytest.raises(corx.RulesDataError, match=message):
        corx.parse_spec(raw)


def test_rules_module_imports_no_framework_and_no_app_code():
    code = (
        "import sys; import prescribers.rules; "
        "apps = ('django', 'clinic', 'patients', 'taper', 'vitals', 'safety', 'api', 'workspace', 'demo'); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in apps); "
        "extra = sorted(m for m in sys.modules if m.startswith('prescribers.') "
        "and m not in ('prescribers.rules', 'prescribers.drugs')); "
        "print(bad, extra); sys.exit(1 if bad or extra else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# --- mutations: the table must catch a broken rule ----------------------------------------------------------


def _end_exclusive(fact, horizon):
    return horizon if fact.end is None else min(fact.end - timedelta(days=1), horizon)


def _unconvertible_as_zero(active):
    return sum((i.fact.mme_per_day or Decimal(0) for i in active), Decimal(0)), 0


def _counts_program_prescriber(fact, mpe, excluded):
    return fact.kind == "dispensation" and fact.drug_class in mpe.classes


def _strictly_above(total, level):
    return total > level


def _window_one_day_long(fill_day, window_days):
    return fill_day + timedelta(days=window_days)


MUTANTS = [
    ("last_day", _end_exclusive, {"exact 1-day overlap", "fills from two prescribers overlapping by 1 day"}),
    ("mme_of_day", _unconvertible_as_zero, {"unconvertible opioid with 55 known: at least 55"}),
    ("mpe_counted", _counts_program_prescriber, {"the program's prescriber is excluded"}),
    ("at_level", _strictly_above, {"MME exactly 50", "MME exactly 90"}),
    ("window_last", _window_one_day_long, {"the 5th fill on day 91"}),
]


@pytest.mark.parametrize(("name", "mutant", "killers"), MUTANTS, ids=[m[0] for m in MUTANTS])
def test_the_table_kills_the_mutant(monkeypatch, name, mutant, killers):
    assert all(case.failure() is None for case in CASES if case.name in killers)  # the real rule passes
    monkeypatch.setattr(corx, name, mutant)
    failing = {case.name for case in CASES if case.failure() is not None}
    assert killers <= failing, f"{name}: the mutant survived {sorted(killers - failing)}"


def test_unconvertible_as_zero_also_hides_the_undetermined_alert(monkeypatch):
    monkeypatch.setattr(corx, "mme_of_day", _unconvertible_as_zero)
    facts = patient(med("o1", "oxycodone", "2026-11-01", mme="30"), med("o2", "tramadol", "2026-11-03"))
    assert events(facts, "corx_mme_unknown") == []  # which is why the real rule never does this


def test_random_facts_are_stable_under_repeated_evaluation():
    rnd = random.Random(7)
    meds = [
        med(f"m{i}", rnd.choice(INGREDIENTS), START + timedelta(days=rnd.randint(0, 100)), mme="25")
        for i in range(12)
    ]
    facts = patient(*meds)
    assert corx.evaluate(facts) == corx.evaluate(facts)
