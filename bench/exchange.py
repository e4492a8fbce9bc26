"""Secure exchange: enquiries/s sealed and delivered to a loopback partner instance over
HTTPS (receipt verified), enquiry->receipt latency, and the envelope's cost against the
`openssl cms` command doing the same triple wrap on the same payload, in the same run.

The partner (LA 806) runs in its own process, as another authority's server would; ours
delivers through the sender (woken by the commit) over a kept-alive connection.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

N_ENQUIRIES = int(os.environ.get("BENCH_EXCHANGE_N", "100"))
N_ENVELOPES = int(os.environ.get("BENCH_EXCHANGE_ENVELOPES", "50"))
N_WARMUP = 3
N_OFFICERS = 4


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "exchange", **fields}), flush=True)


def envelope_ratio(root: Path) -> float:
    """Our triple wrap against `openssl cms` doing the same; returns openssl's ms."""
    from cryptography.hazmat.primitives import serialization

    from gateway.exchange.envelope import seal
    from gateway.exchange.smime import payload_entity
    from tests.gateway.exchange.conftest import make_identity

    a, b = make_identity("807"), make_identity("806")
    for name, ident in (("a", a), ("b", b)):
        (root / f"{name}.crt").write_bytes(
            ident.certificate.public_bytes(serialization.Encoding.PEM)
        )
        (root / f"{name}.key").write_bytes(
            ident.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    document = (Path(__file__).parent.parent / "parsers" / "schemas" / "exchange.xsd").read_bytes()
    payload = payload_entity(document[:3000], "Synthetic enquiry text.\n", "enquiry.xml")
    (root / "payload.eml").write_bytes(payload)
    started = time.perf_counter()
    for _ in range(N_ENVELOPES):
        seal(document[:3000], "Synthetic enquiry text.\n", sender=a, recipient=b.certificate)
    ours = (time.perf_counter() - started) / N_ENVELOPES
    sign = ["openssl", "cms", "-sign", "-nodetach", "-binary", "-md", "sha256",
            "-signer", str(root / "a.crt"), "-inkey", str(root / "a.key")]  # fmt: skip
    started = time.perf_counter()
    for _ in range(N_ENVELOPES):
        inner = subprocess.run(
            [*sign, "-in", str(root / "payload.eml")], capture_output=True, check=True
        ).stdout
        env = subprocess.run(
            ["openssl", "cms", "-encrypt", "-aes256", "-binary", str(root / "b.crt"),
             str(root / "a.crt")], input=inner, capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run([*sign, "-outform", "DER"], input=env, capture_output=True, check=True)
    theirs = (time.perf_counter() - started) / N_ENVELOPES
    emit(figure="envelope_ms", value=round(ours * 1000, 2), peer="openssl_cms_ms",
         peer_value=round(theirs * 1000, 2), ratio=round(ours / theirs, 3))  # fmt: skip
    return theirs * 1000


def _partner(root: str, conn: Connection) -> None:
    """LA 806 in its own process (another authority's machine): served over HTTPS."""
    from gateway.db import session_scope
    from gateway.exchange.partners import add_partner
    from tests.gateway.exchange.instances import env_for, make_instance, running, serve

    folder = Path(root)
    url = f"sqlite:///{folder / 'la806.db'}"
    env = env_for("806", folder / "home806", url, CME_LIMITS_EXCHANGE_PER_PEER="6000 per minute")
    b = make_instance("806", folder, url, env)
    with running(b):
        serve(b, (folder / "tls.crt", folder / "tls.key"))
        conn.send((b.url, b.cert_pem()))
        cert_807 = conn.recv()
        with session_scope(b.engine) as s:
            add_partner(s, b.settings, la_code="807", name="LA 807", email="cme@la807.example",
                        cert_bytes=cert_807, url=None)  # fmt: skip
        conn.send("ready")
        conn.recv()  # until told to stop


def openssl_envelope_ms(root: Path) -> float:
    """`openssl cms` alone, triple-wrapping the payload envelope_ratio wrote: ms each."""
    sign = ["openssl", "cms", "-sign", "-nodetach", "-binary", "-md", "sha256",
            "-signer", str(root / "a.crt"), "-inkey", str(root / "a.key")]  # fmt: skip
    started = time.perf_counter()
    for _ in range(N_ENVELOPES):
        inner = subprocess.run(
            [*sign, "-in", str(root / "payload.eml")], capture_output=True, check=True
        ).stdout
        env = subprocess.run(
            ["openssl", "cms", "-encrypt", "-aes256", "-binary", str(root / "b.crt"),
             str(root / "a.crt")], input=inner, capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run([*sign, "-outform", "DER"], input=env, capture_output=True, check=True)
    return (time.perf_counter() - started) / N_ENVELOPES * 1000


def round_trip(root: Path) -> dict[str, float]:
    import multiprocessing

    from gateway.cases.inputs import build_referral_input
    from gateway.cases.service import log_referral
    from gateway.db import session_scope
    from gateway.exchange import transport_http, working
    from gateway.exchange.partners import add_partner
    from gateway.exchange.sender import Sender
    from tests.gateway.exchange.instances import env_for, make_instance, running, tls_files

    tls = tls_files(root)
    url = f"sqlite:///{root / 'la807.db'}"
    a = make_instance("807", root, url, env_for("807", root / "home807", url))
    shutil.copy(tls[0], a.home / "exchange" / "https-ca.pem")
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    partner = multiprocessing.get_context("spawn").Process(
        target=_partner, args=(str(root), theirs), daemon=True
    )
    partner.start()
    try:
        partner_url, partner_cert = ours.recv()
        ours.send(a.cert_pem())
        assert ours.recv() == "ready"
        with running(a):
            with session_scope(a.engine) as s:
                add_partner(s, a.settings, la_code="806", name="LA 806",
                            email="cme@la806.example", cert_bytes=partner_cert,
                            url=partner_url)  # fmt: skip
            data = build_referral_input(
                {"forename": "Bench", "surname": "Synthetic", "dob": "2014-01-02"},
                today=date.today(),
            )
            with session_scope(a.engine) as s:
                case_id = log_referral(s, a.settings, data, "bench").id
            sender = Sender(a.engine, a.settings).start()
            latencies = []
            try:
                # The officer's transaction commits; that commit wakes the sender, which
                # seals nothing more, posts over the kept-alive connection, verifies the
                # signed receipt and records the delivery. The first few (TLS set-up,
                # caches) are warm-up, outside the figures.
                started = time.perf_counter()
                for i in range(N_WARMUP + N_ENQUIRIES):
                    if i == N_WARMUP:
                        started = time.perf_counter()
                    t0 = time.perf_counter()
                    with session_scope(a.engine) as s:
                        working.send_enquiry(s, a.settings, case_id, "806", "bench")
                    if not sender.wait_delivered(i + 1, timeout=120):
                        raise RuntimeError(f"enquiry {i} not delivered in 120 s")
                    if i >= N_WARMUP:
                        latencies.append(time.perf_counter() - t0)
                elapsed = time.perf_counter() - started
                # Then several officers at once: the sender takes what each round finds
                # due, so sealing the next overlaps with the partner answering the last.
                base = N_WARMUP + N_ENQUIRIES
                each = max(N_ENQUIRIES // N_OFFICERS, 1)

                def officer() -> None:
                    for _ in range(each):
                        with session_scope(a.engine) as s:
                            working.send_enquiry(s, a.settings, case_id, "806", "bench")

                together = time.perf_counter()
                officers = [threading.Thread(target=officer) for _ in range(N_OFFICERS)]
                for t in officers:
                    t.start()
                for t in officers:
                    t.join()
                if not sender.wait_delivered(base + each * N_OFFICERS, timeout=600):
                    raise RuntimeError("the officers' enquiries were not all delivered")
                together_rate = each * N_OFFICERS / (time.perf_counter() - together)
            finally:
                sender.stop()
            opened = transport_http.connections(a.settings).opened
    finally:
        ours.send("stop")
        partner.join(60)
    latencies.sort()
    return {
        "rate": N_ENQUIRIES / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "together_rate": together_rate,
        "opened": opened,
    }


def report(got: dict[str, float], before_ms: float, after_ms: float) -> None:
    # The openssl peer is timed before and after the round trips (the machine is shared):
    # each figure is set beside the mean of the two.
    peer_ms = (before_ms + after_ms) / 2
    peer_rate = 1000 / peer_ms
    both = {"peer_before": round(before_ms, 1), "peer_after": round(after_ms, 1)}
    note = (
        "sealed, committed, sender woken by the commit, HTTPS to LA 806 in its own process on "
        f"loopback over {int(got['opened'])} kept-alive TLS connection(s), signed receipt "
        "verified, SQLite; one officer, each enquiry waited for"
    )
    emit(figure="enquiries_per_s", value=round(got["rate"], 2),
         peer="openssl_cms_envelopes_per_s", peer_value=round(peer_rate, 2),
         ratio=round(got["rate"] / peer_rate, 2), note=note, **both)  # fmt: skip
    emit(figure=f"enquiries_per_s_{N_OFFICERS}_officers", value=round(got["together_rate"], 2),
         peer="openssl_cms_envelopes_per_s", peer_value=round(peer_rate, 2),
         ratio=round(got["together_rate"] / peer_rate, 2), **both)  # fmt: skip
    for name in ("p50", "p95"):
        emit(figure=f"enquiry_to_receipt_ms_{name}", value=round(got[name], 1),
             peer="openssl_cms_ms", peer_value=round(peer_ms, 1),
             ratio=round(got[name] / peer_ms, 2), **both)  # fmt: skip


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for key in [k for k in os.environ if k.startswith("CME_")]:
        del os.environ[key]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        before_ms = envelope_ratio(root)
        got = round_trip(root)
        report(got, before_ms, openssl_envelope_ms(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
