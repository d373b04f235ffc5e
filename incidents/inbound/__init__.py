"""Incidents that start elsewhere: monitoring alerts (Alertmanager) and generic events.
Each module parses what a source sends and registers through incidents.services."""
