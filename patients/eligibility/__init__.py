"""Electronic eligibility (X12 270/271, 005010X279A1) for Stepdown.

Pure Python: nothing here imports Django, so the package can be tested and reused without a database.

- :mod:`patients.eligibility.x12.tokens` reads the interchange envelope and splits segments.
- :mod:`patients.eligibility.x12.spec_data` is the subset of 005010X279A1 that Stepdown sends and reads, as
data.
- :mod:`patients.eligibility.x12.validate` checks a transaction against that data.
- :mod:`patients.eligibility.inquiry` builds a 270 from an :class:`EligibilityInquiry`.
- :mod:`patients.eligibility.response` parses a 271 into an :class:`EligibilityResult` and summarises it for
  a verification-of-benefits record.
- :mod:`patients.eligibility.transport` is the pluggable transport, with a file-drop implementation.
"""
