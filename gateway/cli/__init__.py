"""The command line: `cme`."""
