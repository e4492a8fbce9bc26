"""Letters to referrers, rendered from the templates shipped in the package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

_ENV = Environment(
    loader=PackageLoader("gateway", "templates/letters"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 - plain-text letters, never rendered as HTML
    keep_trailing_newline=True,
)

SUBJECTS = {
    "acknowledgement": "Referral acknowledged",
    "progress_update": "Referral progress update",
    "further_enquiries": "Referral: further information needed",
}


@dataclass(frozen=True)
class Letter:
    kind: str
    subject: str
    body: str


def render(kind: str, tag: str, **context: Any) -> Letter:
    """A letter of `kind` for the case `tag`; the subject never names the child."""
    if kind not in SUBJECTS:
        raise ValueError(f"no letter template {kind!r}")
    body = _ENV.get_template(f"{kind}.txt").render(tag=tag, **context)
    return Letter(kind, f"[{tag}] {SUBJECTS[kind]}", body)
