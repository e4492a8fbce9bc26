"""Retention: how long each kind of record is kept, and the daily disposal of what is due."""
