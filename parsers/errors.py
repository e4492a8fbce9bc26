"""The parsers package's one exception type."""


class ParseError(ValueError):
    """Input that cannot be read; the message says what a person can do about it."""
