"""Referrals awaiting an officer: the queue between a message arriving and a case."""
