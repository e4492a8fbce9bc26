"""Reports for the weekly meetings, the termly briefing, the VEMT panel and the DfE.

Each report is one function in its own module that reads in a few set-based queries, returns
frozen dataclasses and records who ran it (`report.<name>` in the audit log, never child
data): the console and the CLI call the same function, then `formats` (or the briefing's
own print view) turns it into CSV, JSON, HTML or PDF.
"""
