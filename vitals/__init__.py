"""Pure-Python vital-sign classification and instrument scoring (no Django imports).

Thresholds and instruments are data (vitals/data/, vitals/instruments/) with a source and a
status (V verified / S secondary / U unverified or program policy) on every number.
"""
