"""The synthetic example reports (examples/), moved in time. Pure: no Django import.

The demo and the tests import the same fictional patient's report as if it had just been pulled from the
PDMP: every date from 2020 on (fills, prescriptions, the query time; not the birth date) moves by the
same number of days, so the latest fill falls on the day asked for and the rules see recent fills.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent / "examples"
FILES = {"fhir": "pdmp_history_bundle.json", "csv": "pdmp_report.csv"}
_DATE = re.compile(r"\b(20[2-9]\d)-(\d\d)-(\d\d)\b")
LATEST_FILL = dt.date(2026, 10, 9)  # the oxycodone fill, the report's latest


def example(format: str, *, latest_fill_on: dt.date | None = None) -> bytes:
    """The example report in `format` ("fhir" or "csv"), its dates moved so the latest fill is on
    `latest_fill_on` (unchanged when None)."""
    text = (EXAMPLES / FILES[format]).read_text(encoding="utf-8")
    if latest_fill_on is not None:
        delta = latest_fill_on - LATEST_FILL

        def move(match: re.Match[str]) -> str:
            day = dt.date(int(match[1]), int(match[2]), int(match[3])) + delta
            return day.isoformat()

        text = _DATE.sub(move, text)
    return text.encode("utf-8")
