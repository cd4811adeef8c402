"""The clinician web app: alert hub, patients, admissions against bed capacity, administration."""
