"""Plain-language dose wording for the patient calendar (pure: no database)."""

from __future__ import annotations

from taper.catalogue import load_catalogue
from taper.patient_wording import day_lines, dose_phrase, drugs_stopped, pieces, time_phrase

CATALOGUE = load_catalogue()


def lookup(fid):
    return CATALOGUE.formulation(fid)


def test_times_read_like_a_clock():
    assert time_phrase("08:00") == "8 am"
    assert time_phrase("21:30") == "9:30 pm"
    assert time_phrase("12:00") == "12 noon"
    assert time_phrase("00:00") == "midnight"
    assert time_phrase("12:15") == "12:15 pm"


def test_tablet_counts_use_fractions():
    assert pieces("1") == "1"
    assert pieces("0.5") == "½"
    assert pieces("1.5") == "1½"
    assert pieces("0.25") == "¼"
    assert pieces("2.75") == "2¾"


def test_dose_in_tablets_and_liquid():
    five, two = "diazepam:tablet:5mg", "diazepam:tablet:2mg"
    dose = {
        "drug": "diazepam",
        "time": "08:00",
        "mg": "6",
        "tablets": [[five, "1"], [two, "0.5"]],
        "liquid": None,
    }
    assert dose_phrase(dose, lookup) == "1 tablet of diazepam 5 mg and ½ tablet of diazepam 2 mg"
    assert dose_phrase(dose, lookup, short=True) == "1 diazepam 5 mg tablet and ½ diazepam 2 mg tablet"
    liquid = {
        "drug": "diazepam",
        "time": "21:00",
        "mg": "2.5",
        "tablets": [],
        "liquid": ["diazepam:liquid:1mg_per_ml", "2.5"],
    }
    assert dose_phrase(liquid, lookup) == "2.5 mL of diazepam liquid (1 mg in each mL)"
    two_tabs = {"drug": "diazepam", "time": "08:00", "mg": "10", "tablets": [[five, "2"]], "liquid": None}
    assert dose_phrase(two_tabs, lookup) == "2 tablets of diazepam 5 mg"


def test_day_lines_group_by_time_and_skip_zero_doses():
    five = "diazepam:tablet:5mg"
    doses = [
        {"drug": "diazepam", "time": "21:00", "mg": "5", "tablets": [[five, "1"]], "liquid": None},
        {"drug": "diazepam", "time": "08:00", "mg": "0", "tablets": [], "liquid": None},
        {"drug": "alprazolam", "time": "08:00", "mg": "0", "tablets": [], "liquid": None},
    ]
    lines = day_lines(doses, lookup)
    assert [str(line) for line in lines] == ["1 tablet of diazepam 5 mg at 9 pm"]
    assert drugs_stopped(doses) == ["alprazolam"]


def test_unknown_formulation_still_says_something_plain():
    dose = {"drug": "diazepam", "time": "08:00", "mg": "5", "tablets": [["gone:id", "1"]], "liquid": None}
    assert dose_phrase(dose, lambda fid: None) == "1 of your diazepam tablets"
