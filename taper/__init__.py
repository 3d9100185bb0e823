"""Benzodiazepine taper domain: medication catalogue and the pure taper engine.

Pure Python on purpose (no Django imports): the engine is deterministic and property-tested on its own;
the Django app that stores plans calls into it.
"""
