"""The subject access archive's files: index.html (a page a person can open) and data.json
(the same content for a program), zipped. Both come from one finished tree, so what the
page shows and what the JSON holds cannot differ."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from gateway.sar.collect import SECTIONS
from gateway.sar.marks import CATEGORY_WORDS, REDACTED, Category

FORMAT = "cme-gateway/subject-access/1"
HTML_NAME = "index.html"
JSON_NAME = "data.json"

_ENV = Environment(
    loader=PackageLoader("gateway", "templates/sar"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")
_SHORT = {
    Category.REFERRER.value: "referrer",
    Category.OTHER_CHILD.value: "another child",
    Category.CARER.value: "parent or carer",
    Category.STAFF.value: "staff",
    Category.CONTACT.value: "contact",
    Category.CORRESPONDENT.value: "correspondent",
}


def _words(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _withheld(text: str) -> Markup:
    """Text, escaped, with what was withheld shown as withheld."""
    if REDACTED not in text:
        return escape(text)
    parts = [escape(p) for p in text.split(REDACTED)]
    return Markup('<span class="redacted">{0}</span>').format(REDACTED).join(parts)


def _marked(value: dict[str, Any]) -> Markup:
    """Free text with each third party found in it marked for review."""
    text: str = value.get("text", "")
    out, pos = [], 0
    for m in value.get("mentions", ()):
        out.append(_withheld(text[pos : m["start"]]))
        out.append(
            Markup(
                '<mark class="review" data-category="{0}" title="Review: {1}">{2}</mark>'
            ).format(
                m["category"], _SHORT.get(m["category"], m["category"]), text[m["start"] : m["end"]]
            )
        )
        pos = m["end"]
    out.append(_withheld(text[pos:]))
    return Markup("").join(out)


def html_page(doc: dict[str, Any], timezone: str) -> str:
    zone = ZoneInfo(timezone)

    def plain(value: Any) -> Markup:
        # ISO dates and times as a person writes them, on the authority's clock.
        if isinstance(value, str) and _ISO_TIME.match(value):
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if when.tzinfo is not None:
                when = when.astimezone(zone)
            return escape(f"{when.day} {when:%B %Y %H:%M}")
        if isinstance(value, str) and _ISO_DATE.match(value):
            d = date.fromisoformat(value)
            return escape(f"{d.day} {d:%B %Y}")
        return _withheld(str(value))

    env = _ENV.overlay()
    env.filters.update(words=_words, marked=_marked, plain=plain)
    return env.get_template("index.html").render(
        doc=doc,
        sections=SECTIONS,
        categories={c.value: w for c, w in CATEGORY_WORDS.items()},
        short=_SHORT,
    )


def json_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


def archive(html: str, data: bytes) -> bytes:
    """The zip: index.html and data.json."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(HTML_NAME, html.encode("utf-8"))
        zf.writestr(JSON_NAME, data)
    return buf.getvalue()
