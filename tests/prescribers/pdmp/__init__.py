"""PDMP parser tests are pure (no database, no Redis): report bytes in, records and problems out."""

import json
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[3] / "prescribers" / "pdmp" / "examples"
BUNDLE_PATH = EXAMPLES / "pdmp_history_bundle.json"
CSV_PATH = EXAMPLES / "pdmp_report.csv"


def bundle() -> dict:
    """A fresh copy of the example bundle, to change in one test."""
    return json.loads(BUNDLE_PATH.read_text())


def resource(doc: dict, rid: str) -> dict:
    return next(e["resource"] for e in doc["entry"] if e["resource"].get("id") == rid)


def encode(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def csv_lines() -> list[str]:
    return CSV_PATH.read_text().splitlines()
