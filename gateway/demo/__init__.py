"""`cme demo`: an invented caseload loaded through the service's own functions."""
