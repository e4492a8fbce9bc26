"""Letters and referrals on paper: an HTML print view and a PDF (WeasyPrint), the same
page both ways, as a council sends them. Text is escaped; nothing is fetched from outside."""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_ENV = Environment(
    loader=PackageLoader("gateway", "templates/print"),
    autoescape=select_autoescape(["html"]),
)


#: The page's only style, inline so the PDF needs nothing fetched; a browser is allowed it
#: by its hash in the Content-Security-Policy (CSP_STYLE), never by 'unsafe-inline'.
PRINT_CSS = """
@page { size: A4; margin: 25mm 20mm;
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 9pt; } }
body { font-family: "Liberation Sans", Arial, sans-serif; font-size: 11pt; line-height: 1.45;
  color: #0b0c0c; }
.from { text-align: right; margin-bottom: 12mm; }
.ref { font-size: 11pt; font-weight: bold; margin: 6mm 0; }
.body { white-space: pre-wrap; }
.footer { margin-top: 12mm; font-size: 9pt; color: #505a5f; }
"""
CSP_STYLE = (
    "'sha256-" + base64.b64encode(hashlib.sha256(PRINT_CSS.encode()).digest()).decode() + "'"
)


class PrintingUnavailable(RuntimeError):
    """The PDF library or its system libraries are missing; the message says what to do."""


def document_html(
    *, title: str, subject: str, body: str, la_name: str, addressee: str | None = None,
    footer: str = "", on: date | None = None,
) -> str:  # fmt: skip
    """The printable page for a letter or an onward referral."""
    return _ENV.get_template("document.html").render(
        css=PRINT_CSS,
        title=title,
        subject=subject,
        body=body,
        la_name=la_name,
        addressee=addressee,
        footer=footer,
        date=(on or date.today()).strftime("%-d %B %Y"),
    )


def to_pdf(html: str) -> bytes:
    """The page as a PDF. Refuses to fetch anything (no network at run time)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango is missing
        raise PrintingUnavailable(
            "PDFs need WeasyPrint and Pango: run `make test` once (it installs them) or "
            f"apt-get install libpango-1.0-0 libpangoft2-1.0-0 ({type(exc).__name__})"
        ) from None

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"refusing to fetch {url!r} while making a PDF")

    return bytes(HTML(string=html, url_fetcher=no_fetch).write_pdf())
