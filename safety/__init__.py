"""Safety alerts: one pipeline (rules → findings → deduplicated alerts → inbox, escalation, notification)."""
