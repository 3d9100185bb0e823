"""clinic/charts.py: the SVG parses as XML, every drawn point sits inside the plot area, the x mapping is
monotone, nothing renders as NaN, and empty / single-point / hostile input is handled."""

from __future__ import annotations

import itertools
import math
import os
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.charts import (
    DASHES,
    Band,
    ChartSpec,
    Marker,
    Series,
    Threshold,
    geometry,
    nice_ticks,
    render_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
PROPS = settings(
    max_examples=int(os.environ.get("CHART_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
D0 = date(2026, 1, 5)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def plot_rect(root: ET.Element) -> tuple[float, float, float, float]:
    rect = next(e for e in root.iter(f"{SVG}rect") if e.get("class") == "sd-chart-plot")
    x, y = float(rect.get("x")), float(rect.get("y"))
    return x, y, x + float(rect.get("width")), y + float(rect.get("height"))


def data_coords(root: ET.Element) -> list[tuple[float, float]]:
    """Every coordinate drawn for a series: polyline vertices, circle centres, square/polygon corners."""
    group = next(e for e in root.iter(f"{SVG}g") if e.get("class") == "sd-chart-data")
    out = []
    for el in group.iter():
        tag = el.tag.replace(SVG, "")
        if tag == "polyline":
            for pair in el.get("points").split():
                x, y = pair.split(",")
                out.append((float(x), float(y)))
        elif tag == "polygon":  # a point shape: the centre of its box
            pairs = [tuple(map(float, pair.split(","))) for pair in el.get("points").split()]
            xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
            out.append(((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2))
        elif tag == "circle":
            out.append((float(el.get("cx")), float(el.get("cy"))))
        elif tag == "rect":
            w, h = float(el.get("width")), float(el.get("height"))
            out.append((float(el.get("x")) + w / 2, float(el.get("y")) + h / 2))
    return out


values = st.one_of(
    st.none(),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
)
days = st.integers(min_value=0, max_value=800).map(lambda n: D0 + timedelta(days=n))
moments = st.one_of(
    days,
    st.datetimes(min_value=datetime(2025, 6, 1), max_value=datetime(2028, 6, 1)),
)
series_st = st.builds(
    Series,
    name=st.text(max_size=30),
    points=st.lists(st.tuples(moments, values), max_size=30),
    style=st.sampled_from(["line", "step", "points"]),
    dashed=st.booleans(),
    css_class=st.text(alphabet="abc-_ ", max_size=10),
)


@st.composite
def specs(draw):
    fixed_x = draw(st.booleans())
    x_start = x_end = None
    if fixed_x:
        x_start = draw(days)
        x_end = x_start + timedelta(days=draw(st.integers(0, 400)))
    return ChartSpec(
        title=draw(st.text(max_size=40)),
        series=draw(st.lists(series_st, max_size=4)),
        y_label=draw(st.text(max_size=20)),
        y_unit=draw(st.sampled_from(["", "mg", "mmHg"])),
        width=draw(st.integers(150, 1200)),
        height=draw(st.integers(100, 700)),
        x_start=x_start,
        x_end=x_end,
        y_include_zero=draw(st.booleans()),
        markers=draw(st.lists(st.builds(Marker, days, st.text(max_size=8)), max_size=10)),
        bands=draw(
            st.lists(st.builds(Band, days, st.one_of(st.none(), days), st.text(max_size=10)), max_size=3)
        ),
        thresholds=draw(
            st.lists(st.builds(Threshold, st.integers(-100, 300), st.text(max_size=10)), max_size=2)
        ),
    )


@PROPS
@given(specs())
def test_any_spec_renders_valid_svg_with_every_point_inside_the_plot(spec):
    svg = render_chart(spec)
    root = parse(svg)
    for el in root.iter():  # no NaN / inf in any geometry attribute
        for attr in ("points", "transform", "viewBox", "d", "stroke-dasharray"):
            if el.get(attr) is not None:
                assert not re.search(r"nan|inf", el.get(attr), re.I), (attr, el.get(attr))
    assert root.get("role") == "img"
    left, top, right, bottom = plot_rect(root)
    assert right > left and bottom > top
    for x, y in data_coords(root):
        assert math.isfinite(x) and math.isfinite(y)
        assert left - 0.5 <= x <= right + 0.5, (x, left, right)
        assert top - 0.5 <= y <= bottom + 0.5, (y, top, bottom)
    # Every numeric attribute is a finite number.
    for el in root.iter():
        for attr in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height"):
            if el.get(attr) is not None:
                assert math.isfinite(float(el.get(attr)))


@PROPS
@given(specs(), st.lists(moments, min_size=2, max_size=20))
def test_x_mapping_is_monotone(spec, whens):
    g = geometry(spec)
    whens = sorted(
        whens,
        key=lambda w: (
            w.toordinal(),
            w.hour * 3600 + w.minute * 60 + w.second if isinstance(w, datetime) else 0,
        ),
    )
    xs = [g.x(w) for w in whens]
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(xs))
    assert all(g.left <= x <= g.right for x in xs)


@PROPS
@given(specs(), st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=20))
def test_y_mapping_is_monotone_decreasing_on_screen(spec, vals):
    g = geometry(spec)
    vals.sort()
    ys = [g.y(v) for v in vals]
    assert all(a >= b - 1e-9 for a, b in itertools.pairwise(ys))


@PROPS
@given(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9), st.integers(2, 10))
def test_nice_ticks_cover_the_range_with_even_steps(lo, hi, n):
    ticks = nice_ticks(lo, hi, n)
    assert len(ticks) >= 2
    assert ticks[0] <= min(lo, hi) + 1e-6 * max(1, abs(lo), abs(hi))
    assert ticks[-1] >= max(lo, hi) - 1e-6 * max(1, abs(lo), abs(hi))
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    assert all(s > 0 for s in steps)
    assert max(steps) - min(steps) <= 1e-6 * max(steps)


def test_empty_chart_says_so():
    svg = render_chart(ChartSpec(title="Nothing", series=[Series("Planned", [])]))
    root = parse(svg)
    assert "No data yet." in svg
    assert data_coords(root) == []
    assert "Planned: no values." in root.find(f"{SVG}desc").text


def test_no_series_at_all():
    parse(render_chart(ChartSpec(title="Bare")))


def test_single_point_is_drawn_in_the_plot():
    spec = ChartSpec(title="One", series=[Series("Taken", [(D0, Decimal("12.5"))], style="points")])
    root = parse(render_chart(spec))
    coords = data_coords(root)
    assert len(coords) == 1
    left, top, right, bottom = plot_rect(root)
    x, y = coords[0]
    assert left < x < right and top < y < bottom


def test_text_is_escaped_and_invalid_xml_chars_dropped():
    evil = '<script>alert("x")</script> & \x00\x1f'
    spec = ChartSpec(
        title=evil,
        y_label=evil,
        series=[Series(evil, [(D0, 1), (D0 + timedelta(days=3), 2)], css_class='"><x')],
        markers=[Marker(D0, evil)],
        bands=[Band(D0, None, evil)],
        thresholds=[Threshold(1, evil)],
        description=evil,
    )
    svg = render_chart(spec)
    assert "<script>" not in svg and "\x00" not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text.startswith('<script>alert("x")</script>')


def test_accessible_structure_and_summary():
    planned = Series(
        "Planned", [(D0, 20), (D0 + timedelta(days=14), 18)], style="step", until=D0 + timedelta(days=27)
    )
    taken = Series("Taken", [(D0 + timedelta(days=1), 20), (D0 + timedelta(days=2), 19)], style="points")
    spec = ChartSpec(
        title="Daily dose",
        y_label="Diazepam equivalent",
        y_unit="mg",
        series=[planned, taken],
        markers=[Marker(D0 + timedelta(days=14), "Step 2")],
        bands=[Band(D0 + timedelta(days=20), None, "Hold")],
        description="Equivalence table: Ashton.",
        chart_id="dose",
        marker_legend="Dotted line: step change",
    )
    svg = render_chart(spec)
    root = parse(svg)
    assert root.get("aria-labelledby") == "dose-title dose-desc"
    desc = root.find(f"{SVG}desc").text
    assert "Planned: 2 values from 5 Jan 2026 to 19 Jan 2026; first 20 mg, last 18 mg" in desc
    assert "Taken: 2 values" in desc
    assert "Hold: from 25 Jan 2026, ongoing." in desc
    assert "Step 2 19 Jan 2026" in desc
    assert "Equivalence table: Ashton." in desc
    legend = next(e for e in root.iter(f"{SVG}g") if e.get("class") == "sd-chart-legend")
    legend_text = [t.text for t in legend.iter(f"{SVG}text")]
    assert legend_text == ["Planned", "Taken", "Hold", "Dotted line: step change"]
    # Told apart without colour: second series has a dash pattern or a different point shape.
    assert DASHES[0] == "" and DASHES[1]
    assert 'data-series="Planned"' in svg and 'data-series="Taken"' in svg
    # Presentation attributes only: no <style>, no external references.
    assert "<style" not in svg and "href" not in svg and "@import" not in svg


def test_step_line_holds_until_the_end_and_clips_to_a_fixed_range():
    planned = Series("Planned", [(D0, 20), (D0 + timedelta(days=14), 18)], style="step")
    spec = ChartSpec(
        title="x", series=[planned], x_start=D0 + timedelta(days=7), x_end=D0 + timedelta(days=28)
    )
    root = parse(render_chart(spec))
    g = geometry(spec)
    coords = data_coords(root)
    xs = [x for x, _ in coords]
    assert min(xs) == round(g.left, 2) and max(xs) == round(g.right, 2)
    assert {round(y, 2) for _, y in coords} == {round(g.y(20), 2), round(g.y(18), 2)}


def test_output_is_deterministic():
    spec = ChartSpec(title="Same", series=[Series("a", [(D0, 1), (D0 + timedelta(days=1), 2)])])
    assert render_chart(spec) == render_chart(spec)
