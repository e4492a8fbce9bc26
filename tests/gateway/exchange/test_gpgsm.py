"""GnuPG's gpgsm as a partner LA with only a mail client (as KMail drives it), both ways.

The partner's side is built the way a mail client builds it: gpgsm does the CMS, the
MIME around each layer is written here. gpgsm writes BER (indefinite lengths, chunked
strings) on every layer, which is what these tests are for. Each test has its own
GNUPGHOME in a temp folder; its gpg-agent is started by the test and stopped after it,
and no process may be left behind. No network: dirmngr is disabled.
"""

from __future__ import annotations

import base64
import email
import email.policy
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import func, select

from gateway import outbox
from gateway.cases.inputs import build_referral_input
from gateway.cases.service import log_referral
from gateway.db import session_scope, utcnow
from gateway.exchange import inbound, service, working
from gateway.exchange.ber import is_der
from gateway.exchange.envelope import seal
from gateway.exchange.errors import UntrustedMessage
from gateway.exchange.keys import Identity, load_anchor, load_identity
from gateway.exchange.outbound import deliver_due
from gateway.exchange.partners import add_partner
from gateway.exchange.records import LAWFUL_BASIS, Channel, Verdict
from gateway.models.exchange import ExchangeMessage, Proposal, QuarantinedMessage
from parsers.exchange import (
    DocType,
    Document,
    Header,
    Outcome,
    ReplyStatus,
    parse_document,
    render_document,
)
from tests.gateway.exchange.conftest import Mailbox, PemIdentity, make_identity, make_issued
from tests.gateway.exchange.instances import Instance, env_for, make_instance, running

TOOLS = ("gpgsm", "gpgconf", "gpg-agent")
PASSPHRASE = "partner passphrase"
THEIRS = "cme@la806.example"
OURS = "cme@la807.example"
REPLY_WORDS = "She started at Example Primary on 6 January; her UPN is unchanged."
#: A stopped agent may take a moment to exit; this is only an upper bound, never a wait.
EXIT_DEADLINE_SECONDS = 20.0


def _require_gpgsm() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        reason = (
            f"GPGSM UNAVAILABLE, gpgsm partner tests skipped: {', '.join(missing)} not "
            "installed (apt-get install gpgsm, or scripts/install-deps.sh)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _processes_using(home: Path) -> list[int]:
    """Live processes (not zombies) whose command line names this GNUPGHOME."""
    found = []
    needle = str(home).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def gpgsm_id(cert: x509.Certificate, sep: str = "") -> str:
    """How gpgsm names a certificate (trustlist, VALIDSIG): its SHA-1 fingerprint."""
    digest = cert.fingerprint(hashes.SHA1())  # noqa: S303 - a name, not a check
    return (digest.hex(sep) if sep else digest.hex()).upper()


@dataclass
class Gpgsm:
    """One partner's gpgsm, in its own GNUPGHOME."""

    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "GNUPGHOME": str(self.home), "LC_ALL": "C"}

    def run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """gpgsm in batch mode, offline; the passphrase on stdin; status lines on stdout."""
        done = subprocess.run(
            ["gpgsm", "--batch", "--no-tty", "--pinentry-mode", "loopback",
             "--passphrase-fd", "0", "--disable-dirmngr", "--disable-crl-checks",
             "--disable-policy-checks", "--status-fd", "1", *map(str, args)],
            input=PASSPHRASE.encode() + b"\n", capture_output=True, env=self.env,
            timeout=120, check=False,
        )  # fmt: skip
        if check:
            assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done

    def cms(self, *args: str, data: bytes) -> bytes:
        """Run one gpgsm operation over data and return what it wrote."""
        source, target = self.home / "in.bin", self.home / "out.bin"
        source.write_bytes(data)
        target.unlink(missing_ok=True)
        self.run(*args, "--output", target, source)
        return target.read_bytes()

    def verify(self, der: bytes) -> tuple[bytes, str]:
        """(the signed content, the signer's SHA-1 fingerprint), if gpgsm trusts the chain."""
        source, target = self.home / "in.bin", self.home / "out.bin"
        source.write_bytes(der)
        target.unlink(missing_ok=True)
        done = self.run("--verify", "--output", target, source)
        status = done.stdout.decode()
        assert "[GNUPG:] GOODSIG " in status and "[GNUPG:] TRUST_FULLY" in status, status
        valid = [line.split()[2] for line in status.splitlines() if "VALIDSIG" in line]
        return target.read_bytes(), valid[0]

    def import_key(self, identity: Identity, anchor: x509.Certificate) -> None:
        """The partner's key and certificate, as a mail client imports them: PKCS#12.

        gpgsm 2.2 reads only the older PKCS#12 form (3DES, SHA-1 MAC), and its PKCS#12
        key derivation (minip12.c string_to_key) drops a leading zero byte when it extends
        a key past 20 bytes, so about one random salt in 64 gives it the wrong 3DES key
        and it reports "decryption failed; trying charset" for the right passphrase. A
        fresh file has fresh salts: only on that symptom is it made again.
        """
        for _attempt in range(8):
            protection = (
                serialization.PrivateFormat.PKCS12.encryption_builder()
                .kdf_rounds(2048)
                .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                .hmac_hash(hashes.SHA1())  # noqa: S303 - all gpgsm 2.2 reads
                .build(PASSPHRASE.encode())
            )
            p12 = pkcs12.serialize_key_and_certificates(
                b"partner", identity.key, identity.certificate, [anchor], protection
            )
            (self.home / "own.p12").write_bytes(p12)
            done = self.run("--import", self.home / "own.p12", check=False)
            if b"secret keys imported: 1" in done.stderr:
                return
            assert b"decryption failed; trying charset" in done.stderr, done.stderr.decode()
        pytest.fail("gpgsm could not import eight fresh PKCS#12 files of the partner's key")

    def stop(self) -> None:
        subprocess.run(
            ["gpgconf", "--kill", "all"], env=self.env, capture_output=True, timeout=60,
            check=False,
        )  # fmt: skip
        deadline = time.monotonic() + EXIT_DEADLINE_SECONDS
        while _processes_using(self.home) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _processes_using(self.home)
        shutil.rmtree(self.home, ignore_errors=True)
        assert not left, f"gpgsm left processes behind: {left}"


GpgsmFactory = Callable[..., Gpgsm]


@pytest.fixture
def gpgsm() -> Iterator[GpgsmFactory]:
    """Make a partner's GNUPGHOME: trust the given anchors, import certificates and a key."""
    _require_gpgsm()
    made: list[Gpgsm] = []

    def make(
        *,
        anchors: list[x509.Certificate],
        certificates: list[x509.Certificate],
        own: tuple[Identity, x509.Certificate] | None = None,
        relax: bool = False,
    ) -> Gpgsm:
        # Short and ours alone: the agent's socket path must stay under ~100 characters.
        home = Path(tempfile.mkdtemp(prefix="cme-gpgsm-"))
        home.chmod(0o700)
        g = Gpgsm(home)
        made.append(g)
        (home / "gpg-agent.conf").write_text("allow-loopback-pinentry\n")
        flag = "S relax" if relax else "S"
        (home / "trustlist.txt").write_text(
            "".join(f"{gpgsm_id(cert, ':')} {flag}\n" for cert in anchors)
        )
        subprocess.run(
            ["gpgconf", "--launch", "gpg-agent"], env=g.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=True,
        )  # fmt: skip
        pem = b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in [*anchors, *certificates]
        )
        (home / "certs.pem").write_bytes(pem)
        g.run("--import", home / "certs.pem")
        if own is not None:
            g.import_key(*own)
        return g

    try:
        yield make
    finally:
        for g in made:
            g.stop()


# -- the partner's mail client: MIME around gpgsm's CMS ---------------------------------


def _b64(der: bytes) -> bytes:
    return base64.encodebytes(der).replace(b"\n", b"\r\n")


def p7m_entity(der: bytes, smime_type: str) -> bytes:
    return (
        f'Content-Type: application/pkcs7-mime; smime-type={smime_type}; name="smime.p7m"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
    ).encode() + _b64(der)


def text_entity(words: str) -> bytes:
    return (
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + words.encode()
        + b"\r\n"
    )


def clear_signed_entity(part: bytes, signature: bytes) -> bytes:
    boundary = b"----cme-test-boundary-2f9c"
    return (
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
        b'micalg=sha-256; boundary="' + boundary + b'"\r\n\r\n'
        b"This is a cryptographically signed message in MIME format.\r\n\r\n"
        b"--" + boundary + b"\r\n" + part + b"\r\n--" + boundary + b"\r\n"
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
        + _b64(signature)
        + b"\r\n--" + boundary + b"--\r\n"
    )  # fmt: skip


def mail(entity: bytes, in_reply_to: str) -> bytes:
    """The outermost entity as a whole mail, answering our message."""
    head = (
        f"From: {THEIRS}\r\nTo: {OURS}\r\nSubject: RE: CME secure exchange\r\n"
        "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <reply-1@la806.example>\r\n"
        f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\nMIME-Version: 1.0\r\n"
    ).encode()
    return head + entity


def payload(entity: bytes) -> bytes:
    """What a mail client decodes from an application/pkcs7-mime entity."""
    body = email.message_from_bytes(entity, policy=email.policy.default).get_payload(decode=True)
    assert isinstance(body, bytes)
    return body


def assert_ber(der: bytes) -> None:
    assert der[:2] == b"\x30\x80" and not is_der(der), der[:8].hex()


def encrypt(g: Gpgsm, entity: bytes, cipher: str | None) -> bytes:
    """Encrypted to us and to the partner itself, as mail clients keep a readable copy."""
    algo = ["--cipher-algo", cipher] if cipher else []
    der = g.cms("--encrypt", "-r", OURS, "-r", THEIRS, *algo, data=entity)
    assert_ber(der)
    return der


def sign(g: Gpgsm, entity: bytes, *, detached: bool = False) -> bytes:
    der = g.cms("--detach-sign" if detached else "--sign", "-u", THEIRS, data=entity)
    assert_ber(der)
    return der


def gpgsm_message(g: Gpgsm, form: str, inner: bytes, cipher: str | None = "AES256") -> bytes:
    """The outermost entity of the partner's answer, in one of the forms mail clients send."""
    if form == "signed-then-encrypted":
        signed = p7m_entity(sign(g, inner), "signed-data")
        return p7m_entity(encrypt(g, signed, cipher), "enveloped-data")
    if form == "clear-signed-then-encrypted":
        signed = clear_signed_entity(inner, sign(g, inner, detached=True))
        return p7m_entity(encrypt(g, signed, cipher), "enveloped-data")
    assert form == "triple-wrapped"
    signed = p7m_entity(sign(g, inner), "signed-data")
    enveloped = p7m_entity(encrypt(g, signed, cipher), "enveloped-data")
    return p7m_entity(sign(g, enveloped), "signed-data")


# -- our side: one instance (LA 807); LA 806 has only gpgsm -----------------------------


@dataclass
class Scene:
    us: Instance
    box: Mailbox
    partner: Identity
    partner_anchor: x509.Certificate
    our_anchor: x509.Certificate

    def partner_gpgsm(self, make: GpgsmFactory) -> Gpgsm:
        ours = load_identity(self.us.settings.keys_dir).certificate
        return make(
            anchors=[self.our_anchor, self.partner_anchor],
            certificates=[ours],
            own=(self.partner, self.partner_anchor),
        )


@pytest.fixture
def scene(tmp_path: Path, mailbox: tuple[Mailbox, str]) -> Iterator[Scene]:
    box, relay = mailbox
    url = f"sqlite:///{tmp_path / 'la807.db'}"
    us = make_instance("807", tmp_path, url, env_for("807", tmp_path / "home807", url, relay))
    partner, partner_anchor = make_issued("806")
    with running(us):
        with session_scope(us.engine) as s:
            add_partner(
                s, us.settings, la_code="806", name="Test LA 806", email=THEIRS,
                cert_bytes=partner.certificate.public_bytes(serialization.Encoding.PEM),
            )  # fmt: skip
        our_anchor = load_anchor(us.settings.keys_dir)
        assert our_anchor is not None
        yield Scene(us, box, partner, partner_anchor, our_anchor)


def _enquiry(scene: Scene) -> tuple[int, str, bytes]:
    """A case at LA 807 and our enquiry about it, mailed to LA 806: (case, message, mail)."""
    data = build_referral_input(
        {
            "forename": "Amelia", "surname": "Testington", "dob": "2014-05-06", "sex": "F",
            "upn": "R807300024001", "address_line1": "1 Imaginary Row", "town": "Redcar",
            "postcode": "TS10 1AA", "reason": "moved, destination unknown",
            "channel": "other_la",
        },
        today=date.today(),
    )  # fmt: skip
    a = scene.us
    with session_scope(a.engine) as s:
        case_id = log_referral(s, a.settings, data, "test:officer").id
    with session_scope(a.engine) as s:
        sent = working.send_enquiry(s, a.settings, case_id, "806", "test:officer",
                                    channel=Channel.MAIL)  # fmt: skip
        msg_id = sent.message_id
    assert deliver_due(a.engine, a.settings).sent_by_mail == 1
    assert outbox.send_due(a.engine, a.settings).sent == 1
    [wire] = scene.box.messages
    return case_id, msg_id, wire


def _count(inst: Instance, model: type, **where: object) -> int:
    with session_scope(inst.engine) as s:
        return int(s.execute(select(func.count()).select_from(model).filter_by(**where)).scalar())


def test_gpgsm_verifies_and_decrypts_our_enquiry(scene: Scene, gpgsm: GpgsmFactory) -> None:
    """Our triple-wrapped enquiry, sealed and mailed by the real path, read by gpgsm: each
    signature good and its chain trusted through our anchor (no `relax`), then the text
    and the XML document."""
    _case_id, msg_id, wire = _enquiry(scene)
    g = scene.partner_gpgsm(gpgsm)
    assert "relax" not in (g.home / "trustlist.txt").read_text()
    msg = email.message_from_bytes(wire, policy=email.policy.default)
    assert msg["Message-ID"].startswith(f"<exchange.{msg_id}.")
    ours = load_identity(scene.us.settings.keys_dir).certificate
    ours_sha1 = gpgsm_id(ours)

    enveloped_entity, outer_signer = g.verify(payload(wire))
    assert outer_signer == ours_sha1
    assert b"smime-type=enveloped-data" in enveloped_entity
    signed_entity = g.cms("--decrypt", data=payload(enveloped_entity))
    assert b"smime-type=signed-data" in signed_entity
    content, inner_signer = g.verify(payload(signed_entity))
    assert inner_signer == ours_sha1

    parts = email.message_from_bytes(content, policy=email.policy.default)
    found = {p.get_content_type(): p for p in parts.walk() if not p.is_multipart()}
    assert "enquiry" in str(found["text/plain"].get_content()).lower()
    xml = found["application/vnd.cme-exchange+xml"].get_payload(decode=True)
    doc = parse_document(xml)
    assert doc.doc_type is DocType.ENQUIRY and doc.header.message_id == msg_id
    assert (doc.header.sender_la, doc.header.recipient_la) == ("807", "806")


FORMS = ["signed-then-encrypted", "clear-signed-then-encrypted", "triple-wrapped"]


@pytest.mark.parametrize(
    ("form", "cipher"),
    [*((form, "AES256") for form in FORMS), ("signed-then-encrypted", None)],
    ids=[*FORMS, "signed-then-encrypted-gpgsm-default-aes128"],
)
def test_gpgsm_reply_in_words_is_filed(
    scene: Scene, gpgsm: GpgsmFactory, form: str, cipher: str | None
) -> None:
    """The partner answers our enquiry in words from its mail client: the reply is
    authenticated, decrypted, filed against our case and shown to the officer."""
    case_id, msg_id, wire = _enquiry(scene)
    g = scene.partner_gpgsm(gpgsm)
    their_mail = mail(
        gpgsm_message(g, form, text_entity(REPLY_WORDS), cipher),
        in_reply_to=email.message_from_bytes(wire)["Message-ID"],
    )
    a = scene.us
    with session_scope(a.engine) as s:
        outcome = service.handle_inbound_mail(s, a.settings, their_mail)
    assert outcome.verdict is Verdict.ACCEPTED, outcome.detail
    assert _count(a, QuarantinedMessage) == 0
    with session_scope(a.engine) as s:
        [free] = [p for p in working.pending(s) if p.kind == "free_text"]
        assert free.case_id == case_id
        assert REPLY_WORDS in free.detail["text"]
        row = s.execute(
            select(ExchangeMessage).filter_by(direction="out", message_id=msg_id)
        ).scalar_one()
        assert row.status == "delivered"  # a signed answer is proof our enquiry arrived


def test_gpgsm_document_reply_over_the_strict_path(scene: Scene, gpgsm: GpgsmFactory) -> None:
    """A triple-wrapped XML reply from gpgsm on the path that insists on an outer
    signature before anything is decrypted (as HTTPS does); tampered, it is refused on
    that signature, and the sender learns nothing but the generic answer."""
    case_id, msg_id, _wire = _enquiry(scene)
    g = scene.partner_gpgsm(gpgsm)
    a = scene.us
    header = Header(str(uuid.uuid4()), "806", "807", utcnow().replace(microsecond=0), msg_id)
    reply = Document(DocType.REPLY, header, case_ref="CME-1", lawful_basis=LAWFUL_BASIS,
                     outcome=Outcome(ReplyStatus.NOT_KNOWN))  # fmt: skip
    xml = render_document(reply)
    inner = (
        b'Content-Type: application/vnd.cme-exchange+xml; name="reply.xml"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="reply.xml"\r\n\r\n' + _b64(xml)
    )
    outer = payload(gpgsm_message(g, "triple-wrapped", inner))
    assert_ber(outer)
    identity = load_identity(a.settings.keys_dir)

    bad = bytearray(outer)
    bad[len(bad) // 2] ^= 0x01
    with session_scope(a.engine) as s:
        refused = inbound.receive(s, a.settings, identity, bytes(bad), Channel.HTTPS)
        assert refused.verdict is Verdict.REFUSED
        assert refused.detail == UntrustedMessage.GENERIC
        [held] = s.execute(select(QuarantinedMessage)).scalars()
        assert "decrypt" not in held.reason  # stopped at the outer signature

    with session_scope(a.engine) as s:
        outcome = inbound.receive(s, a.settings, identity, outer, Channel.HTTPS)
        reasons = [q.reason for q in s.execute(select(QuarantinedMessage)).scalars()]
        assert outcome.verdict is Verdict.ACCEPTED, reasons
        assert outcome.receipt is not None  # a gateway partner would get a receipt
    with session_scope(a.engine) as s:
        [update] = [p for p in working.pending(s) if p.kind == "case_update"]
        assert update.case_id == case_id and update.detail["status"] == "not-known"
        assert s.execute(select(func.count()).select_from(Proposal)).scalar() == 1


def test_gpgsm_anchors_a_self_signed_certificate_only_with_relax(
    gpgsm: GpgsmFactory, pki: dict[str, PemIdentity]
) -> None:
    """Why `cme keys init` issues an anchor: a self-signed CA:FALSE certificate (what it
    made before) is no trust anchor to gpgsm unless its trustlist line says `relax`."""
    old = make_identity("807")
    them = pki["806"]
    sealed = seal(b"<x/>", "text", sender=old, recipient=them.identity.certificate).der

    strict = gpgsm(anchors=[old.certificate], certificates=[])
    done = strict.run("--verify", "--output", strict.home / "out.bin", _file(strict, sealed),
                      check=False)  # fmt: skip
    assert done.returncode != 0
    assert b"TRUST_FULLY" not in done.stdout
    assert b"not marked as a CA" in done.stderr

    relaxed = gpgsm(anchors=[old.certificate], certificates=[], relax=True)
    content, signer = relaxed.verify(sealed)
    assert signer == gpgsm_id(old.certificate)
    assert b"smime-type=enveloped-data" in content


def _file(g: Gpgsm, data: bytes) -> Path:
    path = g.home / "message.bin"
    path.write_bytes(data)
    return path


def test_without_gpgsm_ci_fails_and_a_workstation_skips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find there
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="GPGSM UNAVAILABLE"):
        _require_gpgsm()
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="GPGSM UNAVAILABLE"):
        _require_gpgsm()
