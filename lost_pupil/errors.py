"""The lost-pupil package's exceptions, each with a message a person can act on."""


class LostPupilError(Exception):
    """Something the officer or school asked for cannot be done; the message says why."""


class StoreError(LostPupilError):
    """The encrypted file store refused or could not complete an operation."""


class NotFound(LostPupilError):
    """No such lost-pupil record or file."""
