"""Eligibility tests are pure (no database, no Redis): X12 text in, plain data out."""

from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()
