"""Parse throughput of the referral corpus against the floor: Python's own
`email.message_from_bytes(policy=default)` on the same messages, in the same run."""

from __future__ import annotations

import email
import json
import os
import time
from collections.abc import Callable
from email import policy

from parsers.mime import parse_message
from parsers.referral import parse_referral
from tests.fixtures.referrals.corpus import load_corpus

ROUNDS = int(os.environ.get("BENCH_PARSE_ROUNDS", "40"))
#: The issue's goal: MIME reading within 3x of the standard library floor for plain messages.
GOAL_RATIO = 3.0


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "parse", **fields}), flush=True)


def _rate(fn: Callable[[bytes], object], items: list[bytes]) -> tuple[float, float]:
    """Best of three timed passes of ROUNDS over the items: (messages/s, MB/s)."""
    size = sum(len(m) for m in items) * ROUNDS
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(ROUNDS):
            for raw in items:
                fn(raw)
        best = min(best, time.perf_counter() - started)
    n = len(items) * ROUNDS
    return n / best, size / best / 1e6


def _floor(raw: bytes) -> object:
    msg = email.message_from_bytes(raw, policy=policy.default)
    # The floor reads what any MIME reader must: headers and every part's decoded content.
    for part in msg.walk():
        if not part.is_multipart():
            part.get_payload(decode=True)
    return msg["subject"]


def main() -> None:
    corpus = load_corpus()
    emails = [f.data for f in corpus if f.kind == "email"]
    plain = [m for m in emails if b"multipart" not in m.lower()]
    for label, items in (("plain", plain), ("all_email", emails)):
        floor_rate, floor_mb = _rate(_floor, items)
        ours_rate, ours_mb = _rate(parse_message, items)
        ratio = floor_rate / ours_rate  # how many times slower than the floor
        emit(figure=f"mime_{label}_messages_per_s", value=round(ours_rate, 1),
             floor=round(floor_rate, 1), ratio=round(ratio, 2), goal_ratio=GOAL_RATIO,
             messages=len(items))  # fmt: skip
        emit(figure=f"mime_{label}_mb_per_s", value=round(ours_mb, 2), floor=round(floor_mb, 2))
    sources = [(f.data, f.kind) for f in corpus]
    started = time.perf_counter()
    rounds = max(1, ROUNDS // 4)
    for _ in range(rounds):
        for data, kind in sources:
            parse_referral(data, kind=kind)
    elapsed = time.perf_counter() - started
    size = sum(len(d) for d, _ in sources) * rounds
    emit(figure="referral_drafts_per_s", value=round(len(sources) * rounds / elapsed, 1),
         mb_per_s=round(size / elapsed / 1e6, 3), fixtures=len(sources))  # fmt: skip


if __name__ == "__main__":
    main()
