"""The FHIR R4 door: read-only Patient, Encounter and Observation resources (UK Core conventions) for other
systems, OAuth2 client-credentials access for API clients, and the end-of-stay export.

Named ``fhir_r4`` rather than ``fhir`` because the ``fhir.resources`` library (used by the tests to validate
what this package emits) owns the ``fhir`` import name. Mappers (``resources``, ``observations``, ``bundles``)
are pure; ``queries`` and ``clients`` do the database work; ``routes`` is the HTTP edge.
"""
