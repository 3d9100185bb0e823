"""The pure consent decision: examples for each rule, and Hypothesis properties over random consents."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from patients.consent import rules
from patients.consent.rules import ConsentFacts, decide

DAY = datetime.date(2025, 6, 1)
PRESCRIBER = "r-prescriber"


def consent(**kw) -> ConsentFacts:
    values = {
        "id": "c1",
        "purpose": "treatment",
        "categories": frozenset({"medications"}),
        "recipient_ids": frozenset({PRESCRIBER}),
        "signed_on": datetime.date(2025, 1, 1),
        "expiry_kind": "date",
        "expires_on": datetime.date(2026, 1, 1),
    }
    values.update(kw)
    return ConsentFacts(**values)


def ask(consents, **kw):
    args = {
        "recipient_id": PRESCRIBER,
        "purpose": "treatment",
        "information_categories": ["medications"],
        "at": DAY,
        "recipient_type": "prescriber",
    }
    args.update(kw)
    return decide(consents, **args)


def test_active_matching_consent_allows():
    decision = ask([consent()])
    assert decision.allowed and decision.consent_id == "c1" and decision.reasons == []


def test_each_mismatch_is_refused_with_a_plain_reason():
    assert ask([consent(revoked_on=datetime.date(2025, 5, 1))]).reasons == [
        "Consent signed Jan 1, 2025: revoked on May 1, 2025"
    ]
    assert "consent expired on Jun 1, 2025" in ask([consent(expires_on=DAY)]).reasons[0]
    assert "recipient not named" in ask([consent()], recipient_id="someone-else").reasons[0]
    assert "purpose payment not covered" in ask([consent()], purpose="payment").reasons[0]
    assert (
        "information not covered: diagnoses"
        in ask([consent()], information_categories=["diagnoses"]).reasons[0]
    )
    assert "not signed yet" in ask([consent(signed_on=None)]).reasons[0]
    assert "not effective until" in ask([consent(signed_on=datetime.date(2025, 7, 1))]).reasons[0]
    assert ask([]).reasons == ["no consent on file for this patient"]


def test_counseling_notes_need_their_own_consent():
    combined = ask(
        [consent(categories=frozenset({"counseling_notes"}))],
        information_categories=["counseling_notes", "medications"],
    )
    assert not combined.allowed and "counseling notes need their own consent" in combined.reasons[0]
    # "all records" never includes counseling notes
    assert not ask(
        [consent(categories=frozenset({"all_records"}))], information_categories=["counseling_notes"]
    ).allowed
    assert ask(
        [consent(categories=frozenset({"counseling_notes"}))], information_categories=["counseling_notes"]
    ).allowed


def test_tpo_general_designation_reaches_fitting_types_only():
    tpo = consent(
        purpose="tpo",
        recipient_ids=frozenset(),
        general_designation=True,
        categories=frozenset({"all_records"}),
        expiry_kind="none",
        expires_on=None,
    )
    assert ask([tpo], recipient_id="plan", recipient_type="health_plan", purpose="payment").allowed
    assert ask([tpo], recipient_id="doc", recipient_type="treating_provider").allowed
    assert not ask([tpo], recipient_id="boss", recipient_type="employer").allowed
    hie = ask([tpo], recipient_id="hie", recipient_type="intermediary")
    assert not hie.allowed and "information exchange must be named" in hie.reasons[0]


def test_event_expiry_counts_from_the_recorded_event():
    c = consent(expiry_kind="event", expires_on=None, expiry_event="end of treatment")
    assert ask([c]).allowed
    ended = ask(
        [
            consent(
                expiry_kind="event",
                expires_on=None,
                expiry_event="end of treatment",
                expiry_event_on=datetime.date(2025, 5, 30),
            )
        ]
    )
    assert not ended.allowed and "expired on May 30, 2025 (end of treatment)" in ended.reasons[0]


def test_validate_reports_each_broken_element():
    base = {
        "purpose": "treatment",
        "purpose_other": "",
        "categories": ["medications"],
        "information_other": "",
        "general_designation": False,
        "has_named_recipients": True,
        "expiry_kind": "date",
        "expires_on": datetime.date(2025, 1, 1),
        "expiry_event": "",
        "signed_on": datetime.date(2025, 2, 1),
    }
    assert "expires_on" in rules.validate(**base)
    assert "information_categories" in rules.validate(
        **{
            **base,
            "categories": ["counseling_notes", "diagnoses"],
            "expires_on": None,
            "expiry_kind": "event",
            "expiry_event": "end",
        }
    )
    assert "recipients" in rules.validate(**{**base, "has_named_recipients": False})
    assert "expiry_kind" in rules.validate(**{**base, "expiry_kind": "none"})
    assert "general_designation" in rules.validate(
        **{**base, "general_designation": True, "purpose": "patient_request"}
    )


# --- properties -----------------------------------------------------------------------------------------
dates = st.dates(min_value=datetime.date(2020, 1, 1), max_value=datetime.date(2030, 12, 31))
categories = st.frozensets(st.sampled_from(sorted(rules.CATEGORIES)), min_size=1, max_size=4)
recipients = st.sampled_from(["r1", "r2", "r3"])


@st.composite
def consents(draw):
    signed = draw(st.one_of(st.none(), dates))
    kind = draw(st.sampled_from(sorted(rules.EXPIRY_KINDS)))
    return ConsentFacts(
        id=draw(st.uuids()),
        purpose=draw(st.sampled_from(sorted(rules.PURPOSES))),
        categories=draw(categories),
        recipient_ids=draw(st.frozensets(recipients, max_size=3)),
        general_designation=draw(st.booleans()),
        signed_on=signed,
        expiry_kind=kind,
        expires_on=draw(dates) if kind == "date" else None,
        expiry_event="end of treatment" if kind == "event" else "",
        expiry_event_on=draw(st.one_of(st.none(), dates)) if kind == "event" else None,
        revoked_on=draw(st.one_of(st.none(), dates)),
    )


requests = st.fixed_dictionaries(
    {
        "recipient_id": recipients,
        "recipient_type": st.sampled_from(sorted(rules.RECIPIENT_TYPES)),
        "purpose": st.sampled_from(sorted(rules.PURPOSES)),
        "information_categories": categories,
        "at": dates,
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(consents(), max_size=4), requests)
def test_an_allowance_always_rests_on_one_active_covering_consent(cs, request):
    decision = decide(cs, **request)
    if decision.allowed:
        used = next(c for c in cs if c.id == decision.consent_id)
        at = request["at"]
        assert used.signed_on is not None and used.signed_on <= at
        assert used.revoked_on is None or at < used.revoked_on
        end = rules.expired_on(used)
        assert end is None or at < end
        assert request["recipient_id"] in used.recipient_ids or used.general_designation
    else:
        assert decision.reasons and decision.consent_id is None


@settings(max_examples=300, deadline=None)
@given(consents(), requests)
def test_never_allowed_on_or_after_revocation_or_expiry(c, request):
    for cut in (c.revoked_on, rules.expired_on(c)):
        if cut is not None:
            assert not decide([c], **{**request, "at": max(cut, request["at"])}).allowed


@settings(max_examples=300, deadline=None)
@given(st.lists(consents(), max_size=4), requests, categories)
def test_asking_for_more_information_never_turns_a_refusal_into_an_allowance(cs, request, extra):
    if not decide(cs, **request).allowed:
        more = {**request, "information_categories": request["information_categories"] | extra}
        assert not decide(cs, **more).allowed


@settings(max_examples=200, deadline=None)
@given(st.lists(consents(), max_size=4), requests)
def test_revoking_a_consent_never_turns_a_refusal_into_an_allowance(cs, request):
    if not decide(cs, **request).allowed and cs:
        revoked = [ConsentFacts(**{**c.__dict__, "revoked_on": request["at"]}) for c in cs]
        assert not decide(revoked, **request).allowed


@settings(max_examples=200, deadline=None)
@given(st.lists(consents(), max_size=4), requests)
def test_counseling_notes_with_anything_else_is_never_allowed(cs, request):
    mixed = {
        **request,
        "information_categories": request["information_categories"] | {"counseling_notes", "diagnoses"},
    }
    assert not decide(cs, **mixed).allowed
