"""Secure exchange: enquiries/s sealed and delivered to a loopback partner instance over
HTTPS (receipt verified), enquiry->receipt latency, and the envelope's cost against the
`openssl cms` command doing the same triple wrap on the same payload, in the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

N_ENQUIRIES = int(os.environ.get("BENCH_EXCHANGE_N", "100"))
N_ENVELOPES = int(os.environ.get("BENCH_EXCHANGE_ENVELOPES", "50"))


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "exchange", **fields}), flush=True)


def envelope_ratio(root: Path) -> None:
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


def round_trip(root: Path) -> None:
    from gateway.cases.inputs import build_referral_input
    from gateway.cases.service import log_referral
    from gateway.db import session_scope
    from gateway.exchange import working
    from gateway.exchange.outbound import deliver_due
    from gateway.exchange.partners import add_partner
    from tests.gateway.exchange.instances import env_for, make_instance, running, serve, tls_files

    tls = tls_files(root)
    insts = []
    for la in ("807", "806"):
        url = f"sqlite:///{root / f'la{la}.db'}"
        insts.append(make_instance(la, root, url, env_for(la, root / f"home{la}", url)))
    a, b = insts
    with running(a, b):
        for inst in (a, b):
            serve(inst, tls)
            shutil.copy(tls[0], inst.home / "exchange" / "https-ca.pem")
        for me, other in ((a, b), (b, a)):
            with session_scope(me.engine) as s:
                add_partner(s, me.settings, la_code=other.la, name=f"LA {other.la}",
                            email=f"cme@la{other.la}.example", cert_bytes=other.cert_pem(),
                            url=other.url)  # fmt: skip
        data = build_referral_input(
            {"forename": "Bench", "surname": "Synthetic", "dob": "2014-01-02"}, today=date.today()
        )
        with session_scope(a.engine) as s:
            case_id = log_referral(s, a.settings, data, "bench").id
        latencies = []
        started = time.perf_counter()
        for _ in range(N_ENQUIRIES):
            t0 = time.perf_counter()
            with session_scope(a.engine) as s:
                working.send_enquiry(s, a.settings, case_id, "806", "bench")
            report = deliver_due(a.engine, a.settings)
            assert report.delivered == 1, report
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
    emit(figure="enquiries_per_s", value=round(N_ENQUIRIES / elapsed, 2),
         note="sealed, HTTPS to loopback LA 806, receipt verified, SQLite")  # fmt: skip
    latencies.sort()
    emit(figure="enquiry_to_receipt_ms_p50",
         value=round(statistics.median(latencies) * 1000, 1))  # fmt: skip
    emit(figure="enquiry_to_receipt_ms_p95",
         value=round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1))  # fmt: skip


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for key in [k for k in os.environ if k.startswith("CME_")]:
        del os.environ[key]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        envelope_ratio(root)
        round_trip(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
