"""Models of this sub-app (issue 3)."""
