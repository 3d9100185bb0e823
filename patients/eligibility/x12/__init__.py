"""X12 tokenising, the 005010X279A1 subset as data, and validation against it."""

from .tokens import Interchange, Segment, Separators, X12SyntaxError, parse_interchange, tokenize
from .validate import Problem, X12ValidationError, validate_270, validate_271

__all__ = [
    "Interchange",
    "Problem",
    "Segment",
    "Separators",
    "X12SyntaxError",
    "X12ValidationError",
    "parse_interchange",
    "tokenize",
    "validate_270",
    "validate_271",
]
