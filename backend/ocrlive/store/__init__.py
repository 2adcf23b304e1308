"""Persistence: the event log and the task store (base.py: the interface and what a
backend must guarantee), the schema (models.py; db.py runs the migrations), and the backends:
sqlite/ (the embedded default)."""
