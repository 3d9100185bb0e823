import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patients.eligibility.x12.tokens import (
    Separators,
    X12SyntaxError,
    parse_interchange,
    read_separators,
    render,
    tokenize,
)

from .conftest import sample


def test_separators_come_from_the_isa():
    seps = read_separators(sample("271_active.x12"))
    assert seps == Separators(element="*", component=":", repetition="^", segment="~")
    pipes = read_separators(sample("271_pipe_separators.x12"))
    assert pipes == Separators(element="|", component=">", repetition="^", segment="!")


def test_tolerates_crlf_and_splits_repetitions_and_components():
    _seps, segs = tokenize(sample("271_pipe_separators.x12"))
    eb = next(s for s in segs if s.tag == "EB")
    assert eb.repeats(3) == ["30", "AI", "AK", "CJ", "BB"]
    assert all("\r" not in e and "\n" not in e for s in segs for e in s.elements)
    seg = tokenize(
        "ISA*00*          *00*          *ZZ*A              *ZZ*B              *260301*0931*^*00501*"
        "000000001*0*T*:~EQ*30^AI**X:Y~"
    )[1][1]
    assert seg.repeats(1) == ["30", "AI"] and seg.get(2) == "" and seg.components(2) == []
    assert seg.components(3) == ["X", "Y"]


def test_round_trip_tokenise_render():
    for name in ("271_active.x12", "271_pipe_separators.x12", "271_dependent.x12"):
        text = sample(name)
        seps, segs = tokenize(text)
        again = render(segs, seps)
        assert tokenize(again)[1] == segs
        # rendering is canonical: no line breaks, same segments
        assert [s.elements for s in tokenize(again)[1]] == [s.elements for s in segs]


def test_segment_terminator_may_be_a_newline():
    text = sample("271_inactive.x12").replace("~\n", "\n")
    seps, _segs = tokenize(text)
    assert seps.segment == "\n"
    assert parse_interchange(text).transactions[0].st.get(1) == "271"


@pytest.mark.parametrize(
    ("mutate", "message", "index"),
    [
        (lambda t: t[:50], "fixed width", 0),
        (lambda t: t.replace("ACMECLEARING   ", "ACMECLEARING", 1), "ISA06 must be exactly 15", 0),
        (lambda t: "GS" + t[3:], "must start with an ISA", 0),
        (lambda t: t.replace("IEA*1*000000102~\n", ""), "expected GS or IEA", None),
        (lambda t: t.replace("IEA*1*000000102", "IEA*1*000000999"), "does not match ISA13", None),
        (lambda t: t.replace("GE*1*102", "GE*1*103"), "does not match GS06", None),
        (lambda t: t.replace("GE*1*102~\n", ""), "no GE trailer", None),
        (lambda t: t.replace("SE*16*0001", "SE*11*0001"), "SE01 says", None),
        (lambda t: t.replace("SE*16*0001", "SE*16*0002"), "does not match ST02", None),
        (lambda t: t.replace("SE*16*0001~\n", ""), "no SE trailer", None),
        (lambda t: t.replace("GE*1*102", "GE*2*102"), "GE01 says", None),
        (lambda t: t.replace("IEA*1*", "IEA*2*"), "IEA01 says", None),
        (lambda t: t.rstrip("\n~"), "no segment terminator", None),
        (lambda t: t.replace("DMG*", "dm*"), "not a segment identifier", None),
    ],
)
def test_malformed_envelopes_raise_with_position(mutate, message, index):
    text = sample("271_inactive.x12")
    with pytest.raises(X12SyntaxError) as err:
        parse_interchange(mutate(text))
    assert message in str(err.value)
    if index is not None:
        assert err.value.segment_index == index
    else:
        assert err.value.segment_index is not None
        assert f"segment {err.value.segment_index + 1}" in str(err.value)


def test_separators_must_differ():
    text = sample("271_inactive.x12")
    bad = text[:104] + "*" + text[105:]  # component separator == element separator
    with pytest.raises(X12SyntaxError):
        tokenize(bad)


def test_bytes_input_and_undecodable_bytes():
    assert tokenize(sample("271_inactive.x12").encode())[1][0].tag == "ISA"
    with pytest.raises(X12SyntaxError, match="not text"):
        tokenize(b"ISA\xff\xfe")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_tokenizer_only_raises_syntax_errors_on_random_text(text):
    with contextlib.suppress(X12SyntaxError):
        parse_interchange(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_tokenizer_only_raises_syntax_errors_on_random_bytes(data):
    with contextlib.suppress(X12SyntaxError):
        parse_interchange(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.text(max_size=30))
def test_tokenizer_survives_corruption_of_a_real_file(cut, junk):
    text = sample("271_active.x12")
    corrupted = text[:cut] + junk + text[cut + len(junk) :]
    with contextlib.suppress(X12SyntaxError):
        parse_interchange(corrupted)
