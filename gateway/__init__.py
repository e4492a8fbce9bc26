"""CME Gateway: the service and the domain (settings, cases, intake, exchange, matching)."""
