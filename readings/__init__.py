"""One path for a reading, whatever door it came in by: validation, observation sets, scoring, storage, alerts."""
