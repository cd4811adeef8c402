"""Ingest: MQTT readings in, validated, scored and stored once, acknowledged only after commit."""
