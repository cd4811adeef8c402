"""Simulated home devices: a patient physiology model, each patient's device kit, and an MQTT publisher.

``physiology`` and ``kit`` are pure (seeded random generators, time passed in); ``fleet`` reads the devices
from PostgreSQL; ``publisher`` and ``runner`` are the broker edge; ``cli`` is ``vward simulate``.
"""
