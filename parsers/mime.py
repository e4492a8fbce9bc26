"""A raw RFC 5322 message into headers, text, HTML, attachments, forwards and threading ids."""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import Header, decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr

from parsers.errors import ParseError
from parsers.html import html_to_text

#: Largest message read; the gateway's SMTP intake refuses bigger ones before this.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_PARTS = 2_000
MAX_DEPTH = 12
MAX_HEADERS = 500
MAX_HEADER_CHARS = 16_384
# Python's MIME parser slows quadratically with nesting; no real mail nests more than this.
MAX_CONTAINERS = 64
#: Wall-clock budget per message; past it the walk stops and says so in the defects.
MAX_SECONDS = 5.0

CASE_TAG = re.compile(r"\[CME-(\d{1,12})\]", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]{1,500}>")
_OOO_SUBJECTS = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|out of (the )?office|away from (the )?office|"
    r"on leave|annual leave|absence notice|auto[- ]?response)\b",
    re.IGNORECASE,
)
_BOUNCE_SUBJECTS = re.compile(
    r"(undeliver|delivery (status )?notification|returned mail|delivery has failed|"
    r"mail delivery failed|failure notice)",
    re.IGNORECASE,
)
# Defects that mean some of the content was not read because of how deeply it nests.
_NESTING = re.compile(r"nesting deeper|nested MIME containers|nests too deeply|nested too deep")
_LATIN1 = frozenset({"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "iso8859-1"})


@dataclass(frozen=True)
class MailAttachment:
    """A file carried by the message, with its SHA-256 so it can be stored and deduplicated."""

    filename: str | None
    content_type: str
    data: bytes = field(repr=False)
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ParsedMessage:
    """What could be read from one message; `defects` says what could not."""

    headers: tuple[tuple[str, str], ...]
    subject: str
    from_name: str | None
    from_address: str | None
    to: tuple[str, ...]
    date: str | None
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    case_tags: tuple[int, ...]
    text: str
    html: str | None
    attachments: tuple[MailAttachment, ...]
    forwarded: tuple[ParsedMessage, ...]
    auto_signals: tuple[str, ...]
    auto_reply: bool
    bounce: bool
    defects: tuple[str, ...]

    @property
    def case_tag(self) -> int | None:
        """The case number from a `[CME-123]` subject tag, if there is one."""
        return self.case_tags[0] if self.case_tags else None

    @property
    def too_nested(self) -> bool:
        """Some content was left unread because the MIME structure nests too deeply."""
        return any(_NESTING.search(d) for d in self.defects)

    def header(self, name: str) -> str | None:
        """The first header of that name, decoded."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)


def decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Bytes of a text part into str; the second value is a defect when guessing was needed."""
    cs = (charset or "").strip().strip("\"'").lower()
    if cs in _LATIN1:
        # Mail that says Latin-1 is nearly always Windows-1252 (curly quotes, euro sign).
        cs = "cp1252"
    if cs:
        try:
            return data.decode(cs), None
        except UnicodeDecodeError:
            return data.decode(cs, "replace"), f"text was not valid {cs}; bad bytes replaced"
        except Exception:  # unknown or broken charset name (LookupError, NUL...): guess below
            cs = cs[:40]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        note = f"unknown charset {cs!r}; read as Windows-1252" if cs else None
        return data.decode("cp1252", "replace"), note


_RAW_BYTE = re.compile("[\udc80-\udcff]")  # a byte surrogateescape kept as it came


def decode_header_value(value: object) -> str:
    """A raw header value (encoded words, stray 8-bit bytes) as readable text."""
    if isinstance(value, Header):
        return str(value)
    text = str(value)[: MAX_HEADER_CHARS * 2]
    if _RAW_BYTE.search(text):
        # 8-bit bytes sent raw in a header: UTF-8 if they are, else Windows-1252.
        data = text.encode("ascii", "surrogateescape")
        text = decode_text(data, None)[0]
    if "=?" in text:
        with contextlib.suppress(Exception):  # a malformed encoded word stays as written
            text = str(make_header(decode_header(text)))
    return " ".join(text.split())[:MAX_HEADER_CHARS] if "\n" in text else text[:MAX_HEADER_CHARS]


def _raw_headers(msg: Message) -> list[tuple[str, str]]:
    # raw_items keeps 8-bit bytes (as surrogates) that get() would turn into U+FFFD.
    return [(str(k), v if isinstance(v, str) else str(v)) for k, v in msg.raw_items()]


def _header_str(msg: Message, name: str) -> str:
    low = name.lower()
    value = next((v for k, v in _raw_headers(msg) if k.lower() == low), None)
    return decode_header_value(value) if value is not None else ""


def _headers(msg: Message, defects: list[str]) -> tuple[tuple[str, str], ...]:
    items = _raw_headers(msg)
    if len(items) > MAX_HEADERS:
        defects.append(f"{len(items)} headers; only the first {MAX_HEADERS} read")
    return tuple((k[:200], decode_header_value(v)) for k, v in items[:MAX_HEADERS])


class _Walk:
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.parts = 0
        self.defects: list[str] = []
        self.stopped = False

    def over_budget(self) -> bool:
        if not self.stopped and time.monotonic() > self.deadline:
            self.stopped = True
            self.defects.append(f"reading stopped after {MAX_SECONDS:g} s; the rest was skipped")
        return self.stopped

    def convert(self, msg: Message, depth: int) -> ParsedMessage:
        defects = self.defects if depth == 0 else []
        defects.extend(type(d).__name__ for d in getattr(msg, "defects", ()))
        texts: list[str] = []
        htmls: list[str] = []
        attachments: list[MailAttachment] = []
        forwarded: list[ParsedMessage] = []
        stack: list[tuple[Message, int]] = [(msg, 0)]
        while stack:
            part, level = stack.pop()
            self.parts += 1
            if self.parts > MAX_PARTS:
                defects.append(f"more than {MAX_PARTS} MIME parts; the rest were skipped")
                break
            if self.over_budget():
                break
            if part is not msg:
                defects.extend(type(d).__name__ for d in getattr(part, "defects", ()))
            try:
                ctype = part.get_content_type()
            except Exception:
                ctype = "application/octet-stream"
            payload = part.get_payload() if part.is_multipart() else None
            if isinstance(payload, list):
                if level >= MAX_DEPTH:
                    defects.append(f"MIME nesting deeper than {MAX_DEPTH}; inner parts skipped")
                    continue
                children = [p for p in payload if isinstance(p, Message)]
                if ctype.startswith("message/"):
                    if ctype not in ("message/rfc822", "message/global"):
                        continue  # delivery-status and the like: signals, not content
                    for inner in children:
                        if depth + 1 > MAX_DEPTH:
                            defects.append("forwarded messages nested too deep; inner ones skipped")
                        else:
                            forwarded.append(self.convert(inner, depth + 1))
                    continue
                stack.extend((p, level + 1) for p in reversed(children))
                continue
            self.leaf(part, ctype, depth, texts, htmls, attachments, forwarded, defects)
        return _assemble(msg, texts, htmls, attachments, forwarded, defects)

    def leaf(
        self,
        part: Message,
        ctype: str,
        depth: int,
        texts: list[str],
        htmls: list[str],
        attachments: list[MailAttachment],
        forwarded: list[ParsedMessage],
        defects: list[str],
    ) -> None:
        try:
            raw = part.get_payload(decode=True)
        except Exception:  # a broken charset or encoding: fall back to the bytes as sent
            raw = _raw_payload(part)
            defects.append(f"a {ctype} part could not be decoded")
        data = raw if isinstance(raw, bytes) else b""
        try:
            name = part.get_filename()
            filename = decode_header_value(name) if name else None
        except Exception:
            filename = None
        try:
            disposition = part.get_content_disposition()
        except Exception:
            disposition = None
        is_eml = ctype == "message/rfc822" or (filename or "").lower().endswith(".eml")
        if is_eml and data:
            if depth + 1 > MAX_DEPTH:
                defects.append("forwarded messages nested too deep; inner ones skipped")
            else:
                forwarded.append(_parse(data, self, depth + 1))
        if disposition != "attachment" and not filename and ctype in ("text/plain", "text/html"):
            try:
                charset = part.get_content_charset()
            except Exception:
                charset = None
            text, note = decode_text(data, charset)
            text = text.replace("\r\n", "\n")
            if note:
                defects.append(note)
            (texts if ctype == "text/plain" else htmls).append(text)
            return
        attachments.append(
            MailAttachment(
                filename=filename[:255] if filename else None,
                content_type=ctype,
                data=data,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )


def _raw_payload(part: Message) -> bytes:
    payload = getattr(part, "_payload", "")
    if isinstance(payload, bytes):
        return payload
    return str(payload).encode("ascii", "surrogateescape") if isinstance(payload, str) else b""


def _ids(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MSGID.findall(value)))


def _signals(msg: Message, subject: str, from_address: str | None) -> tuple[list[str], bool, bool]:
    signals: list[str] = []
    auto_submitted = _header_str(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        signals.append(f"Auto-Submitted: {auto_submitted[:40]}")
    precedence = _header_str(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        signals.append(f"Precedence: {precedence}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _header_str(msg, name):
            signals.append(f"{name} header")
    ooo = bool(_OOO_SUBJECTS.match(subject))
    if ooo:
        signals.append("out-of-office subject")
    return_path = _header_str(msg, "Return-Path").strip()
    empty_return = return_path in ("<>", "") and bool(msg.get_all("Return-Path"))
    if empty_return:
        signals.append("empty return path")
    local = (from_address or "").split("@")[0]
    daemon = local in ("mailer-daemon", "postmaster")
    if daemon:
        signals.append("from mailer-daemon")
    try:
        top = msg.get_content_type()
        report_type = str(msg.get_param("report-type", "") or "").lower()
    except Exception:
        top, report_type = "", ""
    report = top == "multipart/report" and report_type in (
        "delivery-status",
        "disposition-notification",
    )
    if report:
        signals.append(f"{report_type} report")
    bounce = report or daemon or (empty_return and bool(_BOUNCE_SUBJECTS.search(subject)))
    auto = not bounce and bool(signals)
    return signals, auto, bounce


def _assemble(
    msg: Message,
    texts: list[str],
    htmls: list[str],
    attachments: list[MailAttachment],
    forwarded: list[ParsedMessage],
    defects: list[str],
) -> ParsedMessage:
    subject = " ".join(_header_str(msg, "Subject").split())
    from_name, raw_address = parseaddr(_header_str(msg, "From"))
    from_address = raw_address.strip().lower() or None
    try:
        to = tuple(
            a for _, a in getaddresses([_header_str(msg, "To"), _header_str(msg, "Cc")]) if a
        )
    except Exception:
        to = ()
    signals, auto, bounce = _signals(msg, subject, from_address)
    html = "\n".join(htmls) if htmls else None
    text = "\n".join(t for t in texts if t.strip())
    if not text and html:
        try:
            text = html_to_text(html)
        except ParseError as exc:
            defects.append(str(exc))
    message_ids = _ids(_header_str(msg, "Message-ID"))
    return ParsedMessage(
        headers=_headers(msg, defects),
        subject=subject,
        from_name=from_name.strip() or None,
        from_address=from_address,
        to=to,
        date=_header_str(msg, "Date").strip() or None,
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_ids(_header_str(msg, "In-Reply-To")),
        references=_ids(_header_str(msg, "References")),
        case_tags=tuple(dict.fromkeys(int(n) for n in CASE_TAG.findall(subject))),
        text=text,
        html=html,
        attachments=tuple(attachments),
        forwarded=tuple(forwarded),
        auto_signals=tuple(signals),
        auto_reply=auto,
        bounce=bounce,
        defects=tuple(dict.fromkeys(defects)),
    )


def _too_nested(raw: bytes) -> bool:
    low = raw.lower()
    return low.count(b"boundary") + low.count(b"message/rfc822") > MAX_CONTAINERS


def _parse(raw: bytes, walk: _Walk, depth: int) -> ParsedMessage:
    if _too_nested(raw):
        # Read the headers and leave the body as text: the full parser would take minutes.
        msg = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        walk.defects.append(f"more than {MAX_CONTAINERS} nested MIME containers; body not split")
        body = raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]
        text, _ = decode_text(body, None)
        return _assemble(msg, [text], [], [], [], walk.defects if depth == 0 else [])
    try:
        # compat32 parses 10-20x faster than policy.default; headers are decoded on demand.
        msg = message_from_bytes(raw, policy=policy.compat32)
    except RecursionError:
        msg = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        walk.defects.append("the message nests too deeply to read its body")
        return _assemble(msg, [], [], [], [], walk.defects if depth == 0 else [])
    return walk.convert(msg, depth)


def parse_message(raw: bytes) -> ParsedMessage:
    """Read a raw message; never raises on real mail (what it could not read is in `defects`)."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise ParseError("a message must be given as bytes, as received")
    raw = bytes(raw)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ParseError(
            f"the message is {len(raw)} bytes, over the limit of {MAX_MESSAGE_BYTES}; "
            "ask the sender to share large files another way"
        )
    walk = _Walk(time.monotonic() + MAX_SECONDS)
    return _parse(raw, walk, 0)
