"""The engine refuses a start date outside the plausible clinical range (clinic.date_bounds) by name.

Year 1 and year 9999 used to reach the date arithmetic and raise OverflowError (a 500 from the API)."""

from datetime import date, time

import pytest

from taper.engine import Administration, TaperRequest, build_schedule
from taper.errors import TaperInputError


def _request(start: date, not_before: date | None = None) -> TaperRequest:
    return TaperRequest(
        regimen=(Administration("diazepam", "10", time(22)),),
        start_date=start,
        rate_percent=10,
        interval_days=14,
        not_before=not_before,
    )


@pytest.mark.parametrize("start", [date(1, 1, 1), date(9999, 12, 31), date(1999, 12, 31), date(2200, 1, 1)])
def test_an_implausible_start_date_is_refused_by_name(start):
    with pytest.raises(TaperInputError) as refused:
        build_schedule(_request(start))
    assert refused.value.field == "start_date"
    assert "2000-01-01" in refused.value.message


def test_a_plausible_start_builds():
    assert build_schedule(_request(date(2026, 1, 12), not_before=date(2026, 1, 5))).steps
    assert build_schedule(_request(date(2000, 1, 3))).steps  # no `not_before`: a past plan, re-read
