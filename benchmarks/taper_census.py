"""The taper engine over many generated requests: every invariant of the property suite, and the counts.

    python benchmarks/taper_census.py [--requests 10000] [--seed 9]

Draws requests with the property suite's own generator (tests/taper/strategies.py: every catalogue drug,
one to three administrations, random stock, rates, intervals, holds, liquid choices and overrides), builds
each schedule, and holds it to the same checks the suite runs (cap outside the tail unless an override
names the step, pace reported step by step, one form per dose, gradual switch, achievable doses, dates).
A refusal is checked too: each refused step really breaks the cap outside the tail.

Prints: schedules built, refusals by reason, steps in the tail, steps accepted by override, cuts over the
requested pace, moves to liquid, lengthened intervals, switches split into portions, and time per request.
Pure Python: no database. Numbers go in notes, never in asserts.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from taper.engine import Phase, Strategy, build_schedule  # noqa: E402
from taper.errors import TaperCapError, TaperInputError  # noqa: E402
from tests.taper import strategies as gen  # noqa: E402


def reason(exc: TaperInputError) -> str:
    if exc.field == "regimen" and "program accepts" in exc.message:
        return "dose above the plausibility ceiling"
    if exc.field.startswith("holds["):
        return "hold after the end of the taper"
    if exc.field == "table":
        return "drug not in the chosen equivalence table"
    if exc.field == "available_formulations":
        return "stocked formulations cannot make the switch"
    if exc.field.startswith("regimen["):
        return "dose not makeable from the stocked formulations"
    return f"other input: {exc.field}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()

    counts: collections.Counter[str] = collections.Counter()
    drugs: collections.Counter[str] = collections.Counter()
    elapsed = [0.0]

    @settings(
        max_examples=args.requests,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(gen.requests())
    def census(req):
        counts["requests"] += 1
        for a in req.regimen:
            drugs[a.drug] += 1
        started = time.perf_counter()
        try:
            schedule = build_schedule(req)
        except TaperInputError as exc:
            counts[f"refused: {reason(exc)}"] += 1
            return
        except TaperCapError as exc:
            breaches = {b[0] for b in gen.cap_breaches(exc.schedule)}
            assert {v.step for v in exc.violations} <= breaches
            kind = (
                "requested pace over the cap"
                if any(v.kind == "rate" for v in exc.violations)
                else ("formulations too coarse for the cap")
            )
            counts[f"refused: {kind}"] += 1
            return
        finally:
            elapsed[0] += time.perf_counter() - started
        gen.check_schedule(req, schedule)
        if req.strategy == Strategy.CROSS_TITRATE:
            gen.check_switch(req, schedule)
        counts["schedules built"] += 1
        counts["steps"] += len(schedule.steps)
        for step in schedule.steps:
            flags = set(step.flags)
            counts["steps in the tail (exemption used)"] += bool(flags & {"tail", "final_step"})
            counts["steps accepted by a named override"] += "cap_override" in flags
            counts["cuts over the requested pace"] += "over_rate" in flags
            counts["moves to the oral liquid"] += "to_liquid" in flags
            counts["steps started later to keep the cap"] += "interval_lengthened" in flags
        switch = [s for s in schedule.steps if s.phase == Phase.SUBSTITUTION]
        counts["switches to diazepam"] += bool(switch)
        counts["switch steps"] += len(switch)

    random.seed(args.seed)
    wall = time.perf_counter()
    census()
    wall = time.perf_counter() - wall
    print(f"{counts['requests']} requests over {len(drugs)} drugs ({', '.join(sorted(drugs))})")
    for key, value in sorted(counts.items()):
        if key != "requests":
            print(f"  {key}: {value}")
    print(
        f"engine time {elapsed[0] / max(counts['requests'], 1) * 1000:.1f} ms per request; wall {wall:.0f} s"
    )


if __name__ == "__main__":
    main()
