"""The per-role pages people land on ("Today"): a composition of the apps' selectors, no models of its own."""
