"""What dispatch needs to know about a raw message: threading ids, signals, attachments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import parseaddr

CASE_TAG = re.compile(r"\[CME-(\d{1,12})\]", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+>")
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
AUTO_SUBJECTS = ("automatic reply", "auto reply", "autoreply", "out of office", "out of the office")
SMIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
# Deeper than any real mail client nests; a bomb hides its content this way.
MAX_DEPTH = 50


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
    depth: int
    tnef_only: bool

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Our ids to look for, nearest first: In-Reply-To, then References newest first."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen:
                seen.append(mid)
        return tuple(seen)


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(_MSGID.findall(value or ""))


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError):  # a header the policy cannot model
        raw = msg.get_all(name, failobj=[])
        value = str(raw[0]) if raw else None
    return str(value) if value is not None else ""


def _is_executable(filename: str | None, content_type: str, payload: bytes) -> bool:
    name = (filename or "").lower().strip().rstrip(".")
    if any(name.endswith(ext) for ext in EXECUTABLE_EXTENSIONS):
        return True
    if content_type in EXECUTABLE_TYPES:
        return True
    return payload[:2] == b"MZ"  # a Windows PE, whatever its name says


def _depth(msg: Message, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    payload = msg.get_payload() if msg.is_multipart() else None
    if not isinstance(payload, list):
        return level
    return max((_depth(p, level + 1) for p in payload if isinstance(p, Message)), default=level)


def read_message(data: bytes) -> MessageFacts:
    """Read the facts from bytes (never raises on malformed mail: defects are reported)."""
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    header_names = {str(k).lower() for k in msg.keys()}  # noqa: SIM118
    has_headers = bool(header_names & {"from", "to", "subject", "date", "message-id", "sender"})
    subject = _header(msg, "Subject")
    sender = parseaddr(_header(msg, "From"))[1].lower() or None
    defects = [type(d).__name__ for d in msg.defects]
    depth = _depth(msg)

    attachments: list[Attachment] = []
    texts: list[str] = []
    htmls: list[str] = []
    bounced: list[str] = []
    tnef = False
    walker = msg.walk() if depth <= MAX_DEPTH else iter([msg])
    for part in walker:
        defects.extend(type(d).__name__ for d in part.defects)
        ctype = part.get_content_type()
        if part.is_multipart():
            continue
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            inner = part.get_payload()
            block = (
                inner[0].as_string()
                if isinstance(inner, list) and inner and isinstance(inner[0], Message)
                else str(inner)
            )
            found = re.search(r"(?im)^message-id:.*$", block)
            if found:
                bounced.extend(_ids(found.group(0)))
            continue
        payload = part.get_payload(decode=True)
        body = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if filename or disposition == "attachment":
            if ctype == "application/ms-tnef" or (filename or "").lower() == "winmail.dat":
                tnef = True
            attachments.append(
                Attachment(filename, ctype, len(body), _is_executable(filename, ctype, body))
            )
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            decoded = body.decode(charset, "replace")
        except LookupError:
            decoded = body.decode("utf-8", "replace")
        if ctype == "text/plain":
            texts.append(decoded)
        elif ctype == "text/html":
            htmls.append(decoded)

    top = msg.get_content_type()
    smime = top in SMIME_TYPES or (
        top == "multipart/signed"
        and "pkcs7-signature" in str(msg.get_param("protocol", "")).lower()
    )
    auto_submitted = _header(msg, "Auto-Submitted").strip().lower()
    precedence = _header(msg, "Precedence").strip().lower()
    auto_reply = (
        (bool(auto_submitted) and auto_submitted != "no")
        or bool(_header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"))
        or precedence in {"auto_reply", "bulk", "junk"}
        or subject.strip().lower().startswith(AUTO_SUBJECTS)
    )
    report = top == "multipart/report" and str(msg.get_param("report-type", "")).lower() in {
        "delivery-status",
        "disposition-notification",
    }
    mailer_daemon = (sender or "").split("@")[0] in {"mailer-daemon", "postmaster"}
    bounce = report or (mailer_daemon and bool(bounced))
    return MessageFacts(
        has_headers=has_headers,
        message_id=(_ids(_header(msg, "Message-ID")) or (None,))[0],
        in_reply_to=_ids(_header(msg, "In-Reply-To")),
        references=_ids(_header(msg, "References")),
        subject=subject,
        sender=sender,
        case_tags=tuple(int(m) for m in CASE_TAG.findall(subject)),
        auto_reply=auto_reply and not bounce,
        bounce=bounce,
        bounced_message_ids=tuple(dict.fromkeys(bounced)),
        smime=smime,
        attachments=tuple(attachments),
        text="\n".join(texts),
        html="\n".join(htmls),
        defects=tuple(dict.fromkeys(defects)),
        depth=depth,
        tnef_only=tnef and not any(t.strip() for t in texts) and not htmls,
    )
