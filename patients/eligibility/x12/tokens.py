"""Reading an X12 interchange: separators from the fixed-width ISA, segments, and the ISA/GS/ST envelope.

The ISA segment is fixed width (106 characters including its terminator), so it alone tells how to read the
rest of the interchange:

- the element separator is the 4th character (right after ``ISA``);
- ISA11 is the repetition separator (5010; in 4010 it was the alphanumeric standards id ``U``);
- ISA16 is the component separator;
- the segment terminator is the character right after ISA16.

Carriage returns and line feeds after a segment terminator are tolerated (files are often wrapped one
segment a
line). Everything malformed raises :class:`X12SyntaxError` carrying the 0-based index of the segment at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Widths of ISA01..ISA16 (X12 5010 interchange control header; also TR3 005010X279A1 appendix B).
ISA_ELEMENT_WIDTHS: tuple[int, ...] = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LENGTH = 3 + len(ISA_ELEMENT_WIDTHS) + sum(ISA_ELEMENT_WIDTHS)  # 105, plus the terminator = 106
_LINE_BREAKS = "\r\n"


class X12SyntaxError(ValueError):
    """The text cannot be read as an X12 interchange. ``segment_index`` is 0-based (None: before any
    segment)."""

    def __init__(self, message: str, segment_index: int | None = None):
        self.segment_index = segment_index
        self.reason = message
        where = f"segment {segment_index + 1}: " if segment_index is not None else ""
        super().__init__(f"X12 syntax error: {where}{message}")


@dataclass(frozen=True)
class Separators:
    """The four delimiters of an interchange. ``repetition`` is None when ISA11 is not a delimiter
    (pre-5010)."""

    element: str = "*"
    component: str = ":"
    repetition: str | None = "^"
    segment: str = "~"

    def __post_init__(self) -> None:
        chars = [self.element, self.component, self.segment]
        if self.repetition is not None:
            chars.append(self.repetition)
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"each separator must be one character, got {ch!r}")
            if ch.isalnum() or ch == " ":
                raise ValueError(f"separator {ch!r} must not be a letter, digit or space")
        if len(set(chars)) != len(chars):
            raise ValueError(f"separators must all differ, got {chars!r}")

    @property
    def all(self) -> frozenset[str]:
        return frozenset(c for c in (self.element, self.component, self.repetition, self.segment) if c)


@dataclass(frozen=True)
class Segment:
    """One segment. ``elements[0]`` is the tag; ``get(1)`` is the first data element (as X12 numbers them)."""

    index: int
    elements: tuple[str, ...]
    separators: Separators = field(repr=False, compare=False)

    @property
    def tag(self) -> str:
        return self.elements[0]

    def get(self, position: int) -> str:
        """Element ``position`` (1-based) as raw text, ``""`` when absent."""
        return self.elements[position] if 0 < position < len(self.elements) else ""

    def repeats(self, position: int) -> list[str]:
        """The repetitions of element ``position`` (one item when it does not repeat, none when empty)."""
        value = self.get(position)
        if not value:
            return []
        rep = self.separators.repetition
        return [v for v in value.split(rep)] if rep else [value]

    def components(self, position: int, value: str | None = None) -> list[str]:
        """The components of a composite element (or of one repetition of it, passed as ``value``)."""
        raw = self.get(position) if value is None else value
        return raw.split(self.separators.component) if raw else []

    @property
    def last_position(self) -> int:
        return len(self.elements) - 1

    def to_text(self) -> str:
        return self.separators.element.join(self.elements)


def read_separators(text: str) -> Separators:
    """Read the separators from the fixed-width ISA segment at the start of ``text``."""
    if not text.startswith("ISA"):
        raise X12SyntaxError("an interchange must start with an ISA segment", 0)
    if len(text) < ISA_LENGTH + 1:
        raise X12SyntaxError(
            f"the ISA segment is fixed width ({ISA_LENGTH + 1} characters with its terminator); "
            f"only {len(text)} characters were given",
            0,
        )
    element = text[3]
    pos = 3
    for number, width in enumerate(ISA_ELEMENT_WIDTHS, start=1):
        if text[pos] != element:
            raise X12SyntaxError(
                f"ISA{number:02d} must be exactly {width} characters wide "
                f"(expected the element separator {element!r} at character {pos + 1}, found {text[pos]!r})",
                0,
            )
        value = text[pos + 1 : pos + 1 + width]
        if element in value:
            raise X12SyntaxError(f"ISA{number:02d} must be exactly {width} characters wide", 0)
        pos += 1 + width
    repetition_char = text[3 + sum(ISA_ELEMENT_WIDTHS[:10]) + 11]  # ISA11
    component = text[ISA_LENGTH - 1]  # ISA16
    segment = text[ISA_LENGTH]
    repetition: str | None = repetition_char
    if repetition_char.isalnum():  # 4010 put the standards id "U" here; it is no delimiter
        repetition = None
    try:
        return Separators(element=element, component=component, repetition=repetition, segment=segment)
    except ValueError as exc:
        raise X12SyntaxError(f"unusable separators in the ISA segment: {exc}", 0) from None


def tokenize(text: str | bytes) -> tuple[Separators, list[Segment]]:
    """Split an interchange into segments. Raises :class:`X12SyntaxError` for anything unreadable."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise X12SyntaxError(f"the file is not text (undecodable byte at offset {exc.start})") from None
    if not isinstance(text, str):
        raise X12SyntaxError(f"expected text, got {type(text).__name__}")
    text = text.lstrip("\ufeff \t\r\n")
    seps = read_separators(text)
    raw_segments = text.split(seps.segment)
    strip_chars = "\r" if seps.segment in _LINE_BREAKS else _LINE_BREAKS
    *complete, tail = raw_segments
    segments: list[Segment] = []
    for raw in complete:
        piece = raw.strip(strip_chars)
        if not piece.strip(" \t"):
            continue
        index = len(segments)
        elements = tuple(piece.split(seps.element))
        tag = elements[0]
        if not (2 <= len(tag) <= 3 and tag.isascii() and tag.isalnum() and tag.upper() == tag):
            raise X12SyntaxError(
                f"{tag[:20]!r} is not a segment identifier (2-3 capital letters/digits)", index
            )
        segments.append(Segment(index=index, elements=elements, separators=seps))
    if tail.strip(" \t\r\n"):
        raise X12SyntaxError(
            f"the last segment ({tail.strip()[:20]!r}) has no segment terminator {seps.segment!r}: "
            "the file looks truncated",
            len(segments),
        )
    return seps, segments


def render(
    segments: list[Segment] | list[tuple[str, ...]], seps: Separators, *, newline: bool = False
) -> str:
    """Join segments back into interchange text (the inverse of :func:`tokenize`)."""
    end = seps.segment + ("\n" if newline else "")
    out = []
    for seg in segments:
        elements = seg.elements if isinstance(seg, Segment) else seg
        out.append(seps.element.join(elements) + end)
    return "".join(out)


@dataclass(frozen=True)
class Transaction:
    st: Segment
    body: tuple[Segment, ...]  # everything between ST and SE
    se: Segment

    @property
    def segments(self) -> tuple[Segment, ...]:
        return (self.st, *self.body, self.se)

    @property
    def control_number(self) -> str:
        return self.st.get(2)


@dataclass(frozen=True)
class FunctionalGroup:
    gs: Segment
    transactions: tuple[Transaction, ...]
    ge: Segment


@dataclass(frozen=True)
class Interchange:
    separators: Separators
    isa: Segment
    groups: tuple[FunctionalGroup, ...]
    iea: Segment
    segments: tuple[Segment, ...]

    @property
    def control_number(self) -> str:
        return self.isa.get(13)

    @property
    def transactions(self) -> list[Transaction]:
        return [t for g in self.groups for t in g.transactions]


def _count(seg: Segment, position: int, what: str) -> int:
    value = seg.get(position)
    if not value.isdigit():
        raise X12SyntaxError(f"{seg.tag}{position:02d} ({what}) must be a number, got {value!r}", seg.index)
    return int(value)


def parse_interchange(text: str | bytes) -> Interchange:
    """Tokenise and check the envelope: ISA/IEA, GS/GE, ST/SE nesting, control numbers and counts."""
    seps, segments = tokenize(text)
    if not segments or segments[0].tag != "ISA":  # pragma: no cover - read_separators already insists
        raise X12SyntaxError("an interchange must start with an ISA segment", 0)
    isa = segments[0]
    if len(isa.elements) != 17:
        raise X12SyntaxError(f"ISA must have 16 elements, has {len(isa.elements) - 1}", 0)
    groups: list[FunctionalGroup] = []
    i = 1
    n = len(segments)
    while i < n and segments[i].tag == "GS":
        gs = segments[i]
        i += 1
        transactions: list[Transaction] = []
        while i < n and segments[i].tag == "ST":
            st = segments[i]
            j = i + 1
            while j < n and segments[j].tag not in ("SE", "ST", "GE", "GS", "IEA", "ISA"):
                j += 1
            if j >= n or segments[j].tag != "SE":
                at = segments[j].index if j < n else segments[-1].index
                raise X12SyntaxError(
                    f"transaction set {st.get(2)!r} (ST at segment {st.index + 1}) has no SE trailer", at
                )
            se = segments[j]
            declared = _count(se, 1, "number of included segments")
            actual = j - i + 1
            if declared != actual:
                raise X12SyntaxError(
                    f"SE01 says the transaction has {declared} segments but ST..SE holds {actual}", se.index
                )
            if se.get(2) != st.get(2):
                raise X12SyntaxError(
                    f"SE02 control number {se.get(2)!r} does not match ST02 {st.get(2)!r}", se.index
                )
            transactions.append(Transaction(st=st, body=tuple(segments[i + 1 : j]), se=se))
            i = j + 1
        if i >= n or segments[i].tag != "GE":
            at = segments[i].index if i < n else segments[-1].index
            found = segments[i].tag if i < n else "end of file"
            raise X12SyntaxError(f"functional group {gs.get(6)!r} has no GE trailer (found {found})", at)
        ge = segments[i]
        if _count(ge, 1, "number of transaction sets") != len(transactions):
            raise X12SyntaxError(
                f"GE01 says {ge.get(1)} transaction sets but the group holds {len(transactions)}", ge.index
            )
        if ge.get(2) != gs.get(6):
            raise X12SyntaxError(f"GE02 {ge.get(2)!r} does not match GS06 {gs.get(6)!r}", ge.index)
        groups.append(FunctionalGroup(gs=gs, transactions=tuple(transactions), ge=ge))
        i += 1
    if i >= n or segments[i].tag != "IEA":
        at = segments[i].index if i < n else segments[-1].index
        found = segments[i].tag if i < n else "end of file"
        raise X12SyntaxError(f"expected GS or IEA, found {found}", at)
    iea = segments[i]
    if _count(iea, 1, "number of functional groups") != len(groups):
        raise X12SyntaxError(
            f"IEA01 says {iea.get(1)} functional groups but the interchange holds {len(groups)}", iea.index
        )
    if iea.get(2) != isa.get(13):
        raise X12SyntaxError(
            f"IEA02 control number {iea.get(2)!r} does not match ISA13 {isa.get(13)!r}", iea.index
        )
    if i + 1 < n:
        raise X12SyntaxError(f"unexpected {segments[i + 1].tag} segment after IEA", segments[i + 1].index)
    if not groups:
        raise X12SyntaxError("the interchange holds no functional group", iea.index)
    return Interchange(separators=seps, isa=isa, groups=tuple(groups), iea=iea, segments=tuple(segments))
