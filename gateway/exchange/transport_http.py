"""HTTPS transport: POST the sealed bytes to a partner's /exchange, get a sealed receipt."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Callable

from gateway.settings import Settings

CONTENT_TYPE = "application/pkcs7-mime; smime-type=signed-data"
MAX_ANSWER_BYTES = 1024 * 1024
#: Extra CA certificates for partners' HTTPS endpoints (e.g. a regional CA), if present.
CA_FILE = "https-ca.pem"

#: post(url, body) -> the response body; raises OSError when the partner is unreachable.
Poster = Callable[[str, bytes], bytes]


def tls_context(settings: Settings) -> ssl.SSLContext:
    cafile = settings.home / "exchange" / CA_FILE
    context = ssl.create_default_context()
    if cafile.exists():
        context.load_verify_locations(cafile=str(cafile))
    return context


def poster(settings: Settings, timeout: float = 30.0) -> Poster:
    context = tls_context(settings)

    def post(url: str, body: bytes) -> bytes:
        if not url.startswith("https://"):
            raise OSError(f"refusing to post to a non-HTTPS address {url}")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url, data=body, method="POST", headers={"Content-Type": CONTENT_TYPE}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:  # noqa: S310
                return bytes(resp.read(MAX_ANSWER_BYTES))
        except urllib.error.HTTPError as exc:
            raise OSError(f"partner answered HTTP {exc.code}") from None

    return post
