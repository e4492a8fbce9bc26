"""What dispatch needs to know about a raw message: threading ids, signals, attachments.

Read with `parsers.mime` (one parse per message); the parsed message travels on in the
facts so the referral parser does not read the bytes again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.errors import ParseError
from parsers.mime import MailAttachment, ParsedMessage, parse_message

_MSGID = re.compile(r"<[^<>\s]{1,500}>")
_HEADER_MSGID = re.compile(r"(?im)^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)")
_PROTOCOL = re.compile(r"""protocol\s*=\s*"?([^";\s]+)""", re.IGNORECASE)
EXECUTABLE_EXTENSIONS = frozenset(
    (".exe", ".scr", ".bat", ".cmd", ".com", ".pif", ".js", ".jse", ".vbs", ".vbe", ".jar",
     ".msi", ".msp", ".ps1", ".psm1", ".dll", ".hta", ".lnk", ".wsf", ".wsh", ".cpl", ".reg",
     ".scf", ".iso", ".img", ".vhd")
)  # fmt: skip
EXECUTABLE_TYPES = frozenset(
    {"application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
     "application/x-executable", "application/vnd.microsoft.portable-executable",
     "application/java-archive", "application/x-ms-shortcut"}
)  # fmt: skip
SMIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_HEADERS_SEEN = frozenset({"from", "to", "subject", "date", "message-id", "sender"})
_RETURNED_HEADERS = frozenset({"text/rfc822-headers", "message/rfc822-headers"})


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int
    executable: bool


@dataclass(frozen=True)
class MessageFacts:
    has_headers: bool
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    sender: str | None
    case_tags: tuple[int, ...]
    auto_reply: bool
    bounce: bool
    bounced_message_ids: tuple[str, ...]
    smime: bool
    attachments: tuple[Attachment, ...]
    text: str
    html: str
    defects: tuple[str, ...]
    too_nested: bool
    tnef_only: bool
    parsed: ParsedMessage | None = None  # None: too big for the parser to read at all

    @property
    def too_large(self) -> bool:
        return self.parsed is None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Our ids to look for, nearest first: In-Reply-To, then References newest first."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen:
                seen.append(mid)
        return tuple(seen)


def _is_executable(att: MailAttachment) -> bool:
    name = (att.filename or "").lower().strip().rstrip(".")
    if any(name.endswith(ext) for ext in EXECUTABLE_EXTENSIONS):
        return True
    if att.content_type in EXECUTABLE_TYPES:
        return True
    return att.data[:2] == b"MZ"  # a Windows PE, whatever its name says


def _is_smime(parsed: ParsedMessage) -> bool:
    value = (parsed.header("Content-Type") or "").strip()
    top = value.split(";", 1)[0].strip().lower()
    if top in SMIME_TYPES:
        return True
    protocol = _PROTOCOL.search(value)
    return top == "multipart/signed" and bool(protocol and "pkcs7-signature" in protocol[1].lower())


def _bounced_ids(parsed: ParsedMessage) -> tuple[str, ...]:
    """The Message-IDs of what came back: returned messages and returned header blocks."""
    ids = [f.message_id for f in parsed.forwarded if f.message_id]
    for att in parsed.attachments:
        if att.content_type in _RETURNED_HEADERS:
            found = _HEADER_MSGID.search(att.data[:65536].decode("utf-8", "replace"))
            if found:
                ids.extend(_MSGID.findall(found.group(1)))
    return tuple(dict.fromkeys(ids))


def _unreadable(defect: str) -> MessageFacts:
    return MessageFacts(
        has_headers=False, message_id=None, in_reply_to=(), references=(), subject="",
        sender=None, case_tags=(), auto_reply=False, bounce=False, bounced_message_ids=(),
        smime=False, attachments=(), text="", html="", defects=(defect,), too_nested=False,
        tnef_only=False,
    )  # fmt: skip


def read_message(data: bytes) -> MessageFacts:
    """Read the facts from bytes (never raises on malformed mail: defects are reported)."""
    try:
        parsed = parse_message(data)
    except ParseError as exc:  # too big to read at all
        return _unreadable(str(exc))
    names = {name.lower() for name, _ in parsed.headers}
    attachments = tuple(
        Attachment(a.filename, a.content_type, a.size, _is_executable(a))
        for a in parsed.attachments
    )
    tnef = any(
        a.content_type == "application/ms-tnef" or (a.filename or "").lower() == "winmail.dat"
        for a in attachments
    )
    text = parsed.text if parsed.text.strip() else ""
    return MessageFacts(
        has_headers=bool(names & _HEADERS_SEEN),
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        subject=parsed.subject,
        sender=parsed.from_address,
        case_tags=parsed.case_tags,
        auto_reply=parsed.auto_reply,
        bounce=parsed.bounce,
        bounced_message_ids=_bounced_ids(parsed) if parsed.bounce else (),
        smime=_is_smime(parsed),
        attachments=attachments,
        text=text,
        html=parsed.html or "",
        defects=parsed.defects,
        too_nested=parsed.too_nested,
        tnef_only=tnef and not text and not parsed.html,
        parsed=parsed,
    )
