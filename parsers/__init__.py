"""Pure parsers: bytes in, frozen dataclasses out. No I/O, no database, no Flask."""
