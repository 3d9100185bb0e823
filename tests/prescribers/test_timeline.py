"""The medication timeline (pure): rows by prescriber, overlaps shown by position and shading, accessible."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET

from prescribers.timeline import Bar, layout, overlaps, render_timeline

TODAY = datetime.date(2026, 6, 1)
D = datetime.timedelta
SVG = "{http://www.w3.org/2000/svg}"


def _bars() -> list[Bar]:
    return [
        Bar("plan", "", "This program", TODAY - D(days=60), None, "Diazepam", "benzodiazepine", program=True),
        Bar(
            "alp",
            "npi:1",
            "Dr Robin Hale",
            TODAY - D(days=30),
            TODAY + D(days=10),
            "Alprazolam 1 mg",
            "benzodiazepine",
            "CVS Main St",
        ),
        Bar(
            "oxy", "npi:2", "Dr Pat Quinn", TODAY - D(days=45), TODAY - D(days=16), "Oxycodone 5 mg", "opioid"
        ),
        Bar("lis", "npi:2", "Dr Pat Quinn", TODAY - D(days=40), None, "Lisinopril 10 mg", ""),
        Bar("old", "npi:2", "Dr Pat Quinn", TODAY - D(days=400), TODAY - D(days=300), "Old one", "opioid"),
    ]


def _rects(svg: str, cls: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    found = {}
    for rect in root.iter(f"{SVG}rect"):
        if rect.get("class") == cls:
            found[rect.get("data-line") or f"{rect.get('data-start')}:{rect.get('data-end')}"] = rect
    return found


def _span(rect: ET.Element) -> tuple[float, float, float]:
    x, w = float(rect.get("x")), float(rect.get("width"))
    return x, x + w, float(rect.get("y"))


def test_overlapping_prescriptions_sit_at_the_same_dates_in_different_rows():
    svg = render_timeline(_bars(), today=TODAY)
    bars = _rects(svg, "tl-bar")
    assert set(bars) == {"plan", "alp", "oxy", "lis"}  # the one from 400 days ago is outside the window
    plan, alp, oxy = _span(bars["plan"]), _span(bars["alp"]), _span(bars["oxy"])
    # The outside alprazolam runs inside the taper plan's span and on another row: the overlap is visible.
    assert plan[0] < alp[0] < alp[1] <= plan[1]
    assert alp[2] != plan[2]
    # The oxycodone starts before the alprazolam and ends after it started: they overlap in x.
    assert oxy[0] < alp[0] < oxy[1]
    # Dates map linearly: 30 days before today is left of today's line, 10 days after is right of it.
    today_line = next(e for e in ET.fromstring(svg).iter(f"{SVG}line") if e.get("class") == "tl-today")
    assert alp[0] < float(today_line.get("x1")) < alp[1]


def test_bars_of_one_prescriber_that_overlap_get_separate_lanes():
    placed = layout(_bars(), today=TODAY)
    quinn = [p for p in placed.bars if p.bar.group == "npi:2"]
    assert len(quinn) == 2 and quinn[0].y != quinn[1].y
    assert [label for label, _, _ in placed.groups] == ["This program", "Dr Pat Quinn", "Dr Robin Hale"]


def test_overlap_of_sedating_medicines_from_two_prescribers_is_shaded_and_described():
    svg = render_timeline(_bars(), today=TODAY)
    shaded = _rects(svg, "tl-overlap")
    (band,) = shaded.values()  # plan + alprazolam + oxycodone: one continuous run
    # From the oxycodone's start (it overlaps the plan) to the alprazolam's last day.
    assert band.get("data-start") == (TODAY - D(days=45)).isoformat()
    assert band.get("data-end") == (TODAY + D(days=10)).isoformat()
    alp = _span(_rects(svg, "tl-bar")["alp"])
    x, w = float(band.get("x")), float(band.get("width"))
    assert x <= alp[0] and alp[1] <= x + w + 0.01
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    desc = root.find(f"{SVG}desc").text
    assert "overlap" in desc and "Dr Robin Hale" in desc and "1 older entry not shown" in desc


def test_a_non_sedating_medicine_never_makes_an_overlap():
    bars = [
        Bar("a", "npi:1", "A", TODAY - D(days=10), None, "Lisinopril", ""),
        Bar("b", "npi:2", "B", TODAY - D(days=10), None, "Alprazolam", "benzodiazepine"),
    ]
    assert overlaps(bars, TODAY - D(days=30), TODAY) == []
    assert "No overlap" in render_timeline(bars, today=TODAY)


def test_text_is_escaped_and_every_bar_has_a_tooltip():
    bars = [Bar("x", "npi:1", 'Dr <script>"&', TODAY - D(days=5), None, "Drug <b>", "opioid", "Ph & Co")]
    svg = render_timeline(bars, today=TODAY)
    root = ET.fromstring(svg)  # well-formed XML
    assert "<script>" not in svg
    tips = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "tl-item"]
    assert tips and "Opioid" in tips[0] and "pharmacy Ph & Co" in tips[0] and "continuing" in tips[0]


def test_empty_timeline_says_so():
    svg = render_timeline([], today=TODAY)
    assert "No medication in this period." in svg
    ET.fromstring(svg)
