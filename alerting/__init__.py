"""Alerting: NEWS2 scoring of observation sets, and the alerts raised and followed up from the scores."""
