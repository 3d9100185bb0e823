"""Validate 270/271 transactions against the 005010X279A1 subset in :mod:`.spec_data`.

The walker follows the loop tree in order: each segment must be the next allowed item of the current loop, the
start of a child loop, or something that closes the loop (a later item of an enclosing loop). What it cannot
place is reported as unexpected; required segments and loops that never came are reported as missing. Each
placed segment is checked element by element (usage, length, data type, code lists, repetitions, composites).

``validate_270`` / ``validate_271`` return a list of :class:`Problem` (empty = valid). ``severity`` is
``error``
for anything the TR3 forbids and ``warning`` where this module's data is only recalled (see spec_data's
``MEM``)
or the deviation is harmless to reading the file. :func:`check_transactions` raises
:class:`X12ValidationError` when there is any error and otherwise returns the parsed loop trees.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from . import spec_data as spec
from .tokens import Interchange, Segment, Transaction, X12SyntaxError, parse_interchange

_DECIMAL = re.compile(r"^-?(\d+\.?\d*|\.\d+)$")
_INTEGER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Problem:
    """One finding. ``position`` is the 0-based index of the segment in the interchange (None: whole file)."""

    position: int | None
    segment: str
    message: str
    element: str | None = None
    loop: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"segment {self.position + 1}" if self.position is not None else "interchange"
        what = self.element or self.segment
        what = f" ({what})" if what else ""
        loop = f" in loop {self.loop}" if self.loop else ""
        return f"{where}{what}{loop}: {self.message}"


class X12ValidationError(ValueError):
    """The text is readable X12 but breaks 005010X279A1. ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]):
        self.problems = [p for p in problems if p.severity == "error"] or list(problems)
        first = self.problems[0]
        self.position = first.position
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"X12 validation error: {first}{more}")


@dataclass
class LoopNode:
    """A loop occurrence in a validated transaction: its segments and child loops, in file order."""

    loop_id: str
    name: str
    children: list[Segment | LoopNode] = field(default_factory=list)

    def segments(self, tag: str | None = None) -> list[Segment]:
        return [c for c in self.children if isinstance(c, Segment) and (tag is None or c.tag == tag)]

    def first(self, tag: str) -> Segment | None:
        found = self.segments(tag)
        return found[0] if found else None

    def loops(self, loop_id: str | None = None) -> list[LoopNode]:
        return [
            c for c in self.children if isinstance(c, LoopNode) and (loop_id is None or c.loop_id == loop_id)
        ]

    def walk(self):
        yield self
        for child in self.loops():
            yield from child.walk()


# ---------------------------------------------------------------------------------------------------- values


def _valid_date(value: str) -> bool:
    fmt = "%Y%m%d" if len(value) == 8 else "%y%m%d" if len(value) == 6 else None
    if fmt is None or not value.isdigit():
        return False
    try:
        dt.datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _valid_time(value: str) -> bool:
    if not value.isdigit() or len(value) not in (4, 6, 7, 8):
        return False
    hh, mm = int(value[0:2]), int(value[2:4])
    ss = int(value[4:6]) if len(value) >= 6 else 0
    return hh < 24 and mm < 60 and ss < 60


def _check_value(value: str, el: spec.ElementSpec, ref: str, add) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        add(ref, "contains control characters")
        return
    kind = el.dtype
    if kind in ("N0", "R"):
        pattern = _INTEGER if kind == "N0" else _DECIMAL
        if not pattern.match(value):
            add(ref, f"{value!r} is not a {'whole number' if kind == 'N0' else 'number'}")
            return
        length = sum(ch.isdigit() for ch in value)
    else:
        length = len(value)
    if not el.min_len <= length <= el.max_len:
        size = f"{el.min_len}" if el.min_len == el.max_len else f"{el.min_len}-{el.max_len}"
        add(ref, f"{el.name} must be {size} characters long, {value!r} has {length}")
        return
    if kind == "DT" and not _valid_date(value):
        add(ref, f"{value!r} is not a valid date")
    elif kind == "TM" and not _valid_time(value):
        add(ref, f"{value!r} is not a valid time")
    if el.codes is not None and kind in ("ID", "AN") and value not in el.codes:
        severity = "warning" if el.lenient_codes else "error"
        add(ref, f"{value!r} is not a known code for {el.name}", severity)
        return
    if el.allowed is not None and value not in el.allowed:
        add(ref, f"{el.name} {value!r} is not allowed here (expected one of {', '.join(el.allowed)})")
    elif el.expected is not None and value not in el.expected:
        add(ref, f"{el.name} {value!r} is not one the TR3 lists at this loop (unverified list)", "warning")


def check_segment(
    seg: Segment, seg_spec: spec.SegmentSpec, loop_id: str | None, problems: list[Problem]
) -> None:
    """Check one segment's elements against its definition, appending to ``problems``."""

    def add(ref: str | None, message: str, severity: str = "error") -> None:
        problems.append(Problem(seg.index, seg.tag, message, ref, loop_id, severity))

    seps = seg.separators
    defined = max(e.position for e in seg_spec.elements)
    if seg.last_position > defined:
        add(
            None, f"{seg.tag} has {seg.last_position} elements; {spec.IMPLEMENTATION_GUIDE} defines {defined}"
        )
    for el in seg_spec.elements:
        ref = f"{seg.tag}{el.position:02d}"
        value = seg.get(el.position)
        if el.usage == "N":
            if value:
                add(ref, f"{el.name} is not used in {spec.IMPLEMENTATION_GUIDE} and must be empty")
            continue
        if not value:
            if el.usage == "R":
                add(ref, f"required element {el.name} is missing")
            continue
        if seg.tag == "ISA":  # fixed width; separators live in ISA11/ISA16
            _check_value(value, el, ref, add)
            continue
        reps = value.split(seps.repetition) if seps.repetition else [value]
        if len(reps) > 1 and el.repeat == 1:
            add(ref, f"{el.name} does not repeat, but contains the repetition separator {seps.repetition!r}")
            continue
        if len(reps) > el.repeat:
            add(ref, f"{el.name} repeats {len(reps)} times; at most {el.repeat} allowed")
        for rep in reps:
            if not rep:
                add(ref, f"{el.name} has an empty repetition")
                continue
            if el.components:
                comps = rep.split(seps.component)
                if len(comps) > len(el.components):
                    add(ref, f"{el.name} has {len(comps)} components; at most {len(el.components)} defined")
                for comp_spec in el.components:
                    cref = f"{ref}-{comp_spec.position}"
                    cval = comps[comp_spec.position - 1] if comp_spec.position <= len(comps) else ""
                    if comp_spec.usage == "N" and cval:
                        add(cref, f"{comp_spec.name} is not used and must be empty")
                    elif comp_spec.usage == "R" and not cval:
                        add(cref, f"required component {comp_spec.name} is missing")
                    elif cval:
                        _check_value(cval, comp_spec, cref, add)
            elif seps.component in rep:
                add(
                    ref,
                    f"{el.name} is not a composite but contains the component separator {seps.component!r}",
                )
            else:
                _check_value(rep, el, ref, add)
    for rule in seg_spec.rules:
        kind = rule[0]
        if kind == "paired":
            a, b = rule[1], rule[2]
            if bool(seg.get(a)) != bool(seg.get(b)):
                add(f"{seg.tag}{a:02d}", f"{seg.tag}{a:02d} and {seg.tag}{b:02d} must be used together")
        elif kind == "at_least_one":
            if not any(seg.get(p) for p in rule[1:]):
                refs = " or ".join(f"{seg.tag}{p:02d}" for p in rule[1:])
                add(None, f"at least one of {refs} is required")
        elif kind == "date_by_qualifier":
            fmt, val = seg.get(rule[1]), seg.get(rule[2])
            if not val:
                continue
            ref = f"{seg.tag}{rule[2]:02d}"
            if fmt == "D8" and not (len(val) == 8 and _valid_date(val)):
                add(ref, f"{val!r} is not a CCYYMMDD date")
            elif fmt == "RD8":
                parts = val.split("-")
                if len(parts) != 2 or not all(len(p) == 8 and _valid_date(p) for p in parts):
                    add(ref, f"{val!r} is not a CCYYMMDD-CCYYMMDD date range")
                elif parts[0] > parts[1]:
                    add(ref, f"date range {val!r} ends before it starts")
        elif kind == "percent_0_1":
            val = seg.get(rule[1])
            if val and _DECIMAL.match(val) and not 0 <= float(val) <= 1:
                add(
                    f"{seg.tag}{rule[1]:02d}",
                    f"percent {val!r} must be a decimal from 0 to 1 (e.g. .2 for 20%)",
                )


# ---------------------------------------------------------------------------------------------------- loops


def _use_matches(use: spec.SegmentUse, seg: Segment) -> bool:
    if use.tag != seg.tag:
        return False
    if seg.tag == "HL":
        level = use.spec.element(3)
        return level is None or level.allowed is None or seg.get(3) in level.allowed
    return True


def _item_matches(item, seg: Segment) -> bool:
    if isinstance(item, spec.LoopSpec):
        return item.matches(seg)
    return _use_matches(item, seg)


def _describe(item) -> str:
    if isinstance(item, spec.LoopSpec):
        first = (
            item.items[0].tag
            if item.items and not isinstance(item.items[0], spec.LoopSpec)
            else item.trigger_tag
        )
        return f"loop {item.loop_id} ({item.name}, starting with {first})"
    return f"{item.tag} segment ({item.spec.name})"


def _walk(loop: spec.LoopSpec, segs: list[Segment], pos: int, exits: list, problems: list[Problem]):
    node = LoopNode(loop.loop_id, loop.name)
    items = loop.items
    counts = [0] * len(items)
    idx = 0
    reported_missing: set[int] = set()

    def missing(k: int, at: Segment) -> None:
        if k in reported_missing:
            return
        reported_missing.add(k)
        problems.append(
            Problem(at.index, at.tag, f"required {_describe(items[k])} is missing", None, loop.loop_id)
        )

    while pos < len(segs):
        seg = segs[pos]
        start = max(idx, 1 if counts[0] else 0)  # a second trigger segment starts a new loop occurrence
        match = next((k for k in range(start, len(items)) if _item_matches(items[k], seg)), None)
        if match is not None:
            for k in range(idx, match):
                if items[k].usage == "R" and counts[k] == 0:
                    missing(k, seg)
            idx = match
            item = items[match]
            counts[match] += 1
            if isinstance(item, spec.LoopSpec):
                if counts[match] > item.max_repeat:
                    problems.append(
                        Problem(
                            seg.index,
                            seg.tag,
                            f"loop {item.loop_id} repeats more than {item.max_repeat} times",
                            None,
                            loop.loop_id,
                        )
                    )
                child_exits = [items[k] for k in range(match, len(items))] + exits
                child, pos = _walk(item, segs, pos, child_exits, problems)
                node.children.append(child)
            else:
                if counts[match] > item.max_use:
                    problems.append(
                        Problem(
                            seg.index,
                            seg.tag,
                            f"{seg.tag} may appear at most {item.max_use} time(s) here",
                            None,
                            loop.loop_id,
                        )
                    )
                check_segment(seg, item.spec, loop.loop_id, problems)
                node.children.append(seg)
                pos += 1
            continue
        if any(_item_matches(x, seg) for x in exits):
            break
        earlier = next(
            (
                items[k]
                for k in range(idx)
                if not isinstance(items[k], spec.LoopSpec) and _use_matches(items[k], seg)
            ),
            None,
        )
        if earlier is not None:
            problems.append(
                Problem(
                    seg.index,
                    seg.tag,
                    f"{seg.tag} is out of order in loop {loop.loop_id}",
                    None,
                    loop.loop_id,
                    "warning",
                )
            )
            check_segment(seg, earlier.spec, loop.loop_id, problems)
            node.children.append(seg)
        else:
            for k in range(idx, len(items)):  # name the missing loop this segment belongs to, first
                it = items[k]
                if (
                    isinstance(it, spec.LoopSpec)
                    and it.usage == "R"
                    and counts[k] == 0
                    and any(not isinstance(x, spec.LoopSpec) and x.tag == seg.tag for x in it.items)
                ):
                    missing(k, seg)
            problems.append(
                Problem(
                    seg.index,
                    seg.tag,
                    f"unexpected {seg.tag} segment: not allowed at this point of loop {loop.loop_id}",
                    None,
                    loop.loop_id,
                )
            )
        pos += 1
    at = segs[pos] if pos < len(segs) else segs[-1]
    for k in range(idx, len(items)):
        if items[k].usage == "R" and counts[k] == 0:
            missing(k, at)
    return node, pos


def _check_hl(root: LoopNode, problems: list[Problem]) -> None:
    seen: set[str] = set()

    def visit(node: LoopNode, parent_id: str | None) -> None:
        hl = node.first("HL") if node.loop_id.startswith("2000") else None
        my_id = parent_id
        if hl is not None:
            my_id = hl.get(1)
            if my_id in seen:
                problems.append(
                    Problem(hl.index, "HL", f"HL01 {my_id!r} is used twice", "HL01", node.loop_id)
                )
            seen.add(my_id)
            if parent_id is not None and hl.get(2) != parent_id:
                problems.append(
                    Problem(
                        hl.index,
                        "HL",
                        f"HL02 {hl.get(2)!r} should point to parent HL {parent_id!r}",
                        "HL02",
                        node.loop_id,
                    )
                )
            has_children = any(c.loop_id.startswith("2000") for c in node.loops())
            if hl.get(4) in ("0", "1") and (hl.get(4) == "1") != has_children:
                problems.append(
                    Problem(
                        hl.index,
                        "HL",
                        f"HL04 says {hl.get(4)!r} but the level "
                        f"{'has' if has_children else 'has no'} subordinate HL levels",
                        "HL04",
                        node.loop_id,
                        "warning",
                    )
                )
        for child in node.loops():
            visit(child, my_id)

    visit(root, None)


def _check_transaction(tx: Transaction, kind: str, problems: list[Problem]) -> LoopNode:
    tree = spec.TRANSACTION_270 if kind == "270" else spec.TRANSACTION_271
    segs = list(tx.segments)
    node, pos = _walk(tree, segs, 0, [], problems)
    for seg in segs[pos:]:
        problems.append(
            Problem(
                seg.index, seg.tag, f"unexpected {seg.tag} segment after the transaction body", None, kind
            )
        )
    _check_hl(node, problems)
    return node


def check_envelope(ix: Interchange, kind: str, problems: list[Problem]) -> None:
    check_segment(ix.isa, spec.ISA, None, problems)
    check_segment(ix.iea, spec.IEA, None, problems)
    for group in ix.groups:
        check_segment(group.gs, spec.GS, None, problems)
        check_segment(group.ge, spec.GE, None, problems)
        if group.gs.get(1) and group.gs.get(1) != spec.FUNCTIONAL_ID[kind]:
            problems.append(
                Problem(group.gs.index, "GS", f"GS01 must be {spec.FUNCTIONAL_ID[kind]} for a {kind}", "GS01")
            )
        for tx in group.transactions:
            if tx.st.get(1) != kind:
                problems.append(
                    Problem(
                        tx.st.index, "ST", f"expected a {kind} transaction, found {tx.st.get(1)!r}", "ST01"
                    )
                )


def check_transactions(
    source: str | bytes | Interchange, kind: str
) -> tuple[Interchange, list[LoopNode], list[Problem]]:
    """Parse (if needed) and validate; raise on syntax or validation errors, else return the loop trees.

    The returned problems are warnings only.
    """
    ix = source if isinstance(source, Interchange) else parse_interchange(source)
    problems: list[Problem] = []
    check_envelope(ix, kind, problems)
    trees = []
    for tx in ix.transactions:
        if tx.st.get(1) == kind:
            trees.append(_check_transaction(tx, kind, problems))
    if any(p.severity == "error" for p in problems):
        raise X12ValidationError(problems)
    return ix, trees, problems


def _validate(source: str | bytes | Interchange, kind: str) -> list[Problem]:
    try:
        ix = source if isinstance(source, Interchange) else parse_interchange(source)
    except X12SyntaxError as exc:
        return [Problem(exc.segment_index, "", exc.reason, None, None, "error")]
    problems: list[Problem] = []
    check_envelope(ix, kind, problems)
    for tx in ix.transactions:
        if tx.st.get(1) == kind:
            _check_transaction(tx, kind, problems)
    return problems


def validate_270(source: str | bytes | Interchange) -> list[Problem]:
    """Every problem found in a 270 interchange (syntax errors become a single problem)."""
    return _validate(source, "270")


def validate_271(source: str | bytes | Interchange) -> list[Problem]:
    """Every problem found in a 271 interchange (syntax errors become a single problem)."""
    return _validate(source, "271")


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
