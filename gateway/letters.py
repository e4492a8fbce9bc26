"""Letters to referrers, rendered from the templates shipped in the package.

A letter to an address nobody has verified (one typed into the public web form) is
council-branded mail to whoever that is: it carries nothing the submitter typed, not
even their name, so the form cannot be used to send our letterhead with someone's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


#: A gap the parser words itself ("postcode is missing"); it quotes nothing sent to us.
_FIXED_GAP = re.compile(r"[a-z][a-z' ()]{0,80} (is|are) missing")
#: Gaps that quote what was sent, by how they start, and the words an unverified
#: recipient gets instead.
_QUOTING_GAPS = (
    ("date of birth ", "the date of birth given cannot be read"),
    ("date last attended ", "the date the child last attended cannot be read"),
    ("date last seen ", "the date the child was last seen cannot be read"),
    ("postcode ", "the postcode given is not a valid UK postcode"),
)
_OTHER_GAP = "some of the details given cannot be read"


def public_gaps(gaps: Iterable[str]) -> list[str]:
    """The gaps in words of our own only, for a letter to an unverified address."""
    out: list[str] = []
    for gap in gaps:
        if _FIXED_GAP.fullmatch(gap):
            line = gap
        elif "(UPN given:" in gap:
            line = "the UPN given is not valid"
        else:
            line = next((w for p, w in _QUOTING_GAPS if gap.startswith(p)), _OTHER_GAP)
        if line not in out:
            out.append(line)
    return out


@dataclass(frozen=True)
class Letter:
    kind: str
    subject: str
    body: str


def render(kind: str, tag: str, *, verified: bool = True, **context: Any) -> Letter:
    """A letter of `kind` for the case `tag`; the subject never names the child.

    verified=False: the address came from the public form, so the letter greets "Dear
    referrer" and words any gaps itself.
    """
    if kind not in SUBJECTS:
        raise ValueError(f"no letter template {kind!r}")
    if verified:
        greeting = context.get("referrer_name") or "colleague"
    else:
        greeting = "referrer"
        context["referrer_name"] = None
        if "gaps" in context:
            context["gaps"] = public_gaps(context["gaps"])
    body = _ENV.get_template(f"{kind}.txt").render(tag=tag, greeting=greeting, **context)
    return Letter(kind, f"[{tag}] {SUBJECTS[kind]}", body)
