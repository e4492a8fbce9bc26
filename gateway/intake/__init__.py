"""Email intake: raw store, SMTP listener, IMAP poller, dispatch and the quarantine."""
