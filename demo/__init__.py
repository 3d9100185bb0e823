"""The demo: two fictional clinics, staff in every role, synthetic patients. Never real data.

`data.py` describes it (pure, deterministic); `services.py` writes it, idempotently, through the same
services the app uses, so every demo patient is audited like any other.
"""
