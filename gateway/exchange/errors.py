"""The exchange's exceptions: typed, with a message a person can act on."""

from __future__ import annotations

from cryptography import x509


class ExchangeError(Exception):
    """Something in the exchange that a person has to fix; the message says what."""


class ExchangeNotConfigured(ExchangeError):
    """This authority has no exchange key yet (`cme keys init` has not been run)."""


class UntrustedMessage(ExchangeError):
    """Any failure to authenticate or open an inbound message.

    Every cause (bad signature, unknown or wrong signer, expired certificate, tampered
    or undecryptable ciphertext, malformed CMS) gives the same message, so a sender
    learns nothing it could use as an oracle. The cause stays in `reason`, for the
    quarantine record only.
    """

    GENERIC = "the message could not be authenticated and was not accepted"

    def __init__(self, reason: str) -> None:
        super().__init__(self.GENERIC)
        self.reason = reason
        # Set once a signature layer has verified against a pinned partner certificate:
        # the failure came after the sender was authenticated.
        self.signer: x509.Certificate | None = None
