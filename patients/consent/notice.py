"""Default wording of the §2.32 redisclosure notice, and what is (not) verified about it.

Verified (shared/reference/clinical.md §7b, and the current §2.32 heading and opening as published at
compliancecosmos.org/notice-and-copy-consent-accompany-disclosure): the OPENING of 2024 Statement 1, below.
NOT verified: the rest of Statement 1 and the 2024 wording of Statement 2. The stored public copies of
eCFR §2.32 reachable while this was written were either the 2018/2020 text or cut off after the opening.

So the default printed text is the verified opening followed by a pointer to the regulation, and each clinic
keeps its own copy (RedisclosureNotice) that an admin completes from eCFR and marks verified. Until then the
app shows "verify against eCFR" to admins, and the printed notice carries a small unverified mark.
"""

from __future__ import annotations

ECFR_URL = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2/subpart-C/section-2.32"

STATEMENT_1_OPENING = (
    "This record which has been disclosed to you is protected by Federal confidentiality rules "
    "(42 CFR part 2). These rules prohibit you from using or disclosing this record, or testimony that "
    "describes the information contained in this record, in any civil, criminal, administrative, or "
    "legislative proceedings by any Federal, State, or local authority, against the patient, unless "
    "authorized by the consent of the patient, except as provided at 42 CFR 2.12(c)(5) or as authorized by "
    "a court in accordance with 42 CFR 2.64 or 2.65. In addition, the Federal rules prohibit you from making "
    "any other use or disclosure of this record unless at least one of the following applies:"
)
# Printed after the opening until the clinic pastes the verified remainder in.
STATEMENT_1_POINTER = " [the conditions listed in 42 CFR 2.32(a)(1); full text at www.ecfr.gov]"

DEFAULT_TEXT = STATEMENT_1_OPENING + STATEMENT_1_POINTER

# The 2018 Statement 2 (verified, Cornell LII); the 2024 rule reworded it (unverified): shown to admins only
# as a starting point when they choose Statement 2.
STATEMENT_2_2018 = "42 CFR part 2 prohibits unauthorized disclosure of these records."

# A quote the tests look for in every printed notice: the verified words every version of Statement 1 keeps.
CORE_PHRASE = "protected by Federal confidentiality rules (42 CFR part 2)"
