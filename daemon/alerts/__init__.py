"""Alerts for people: one per failure episode, stored, and e-mailed when SMTP is configured."""
