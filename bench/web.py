"""Console pages per second through the real waitress server (case list, case view, sign-in),
measured beside the same server's static-file rate in the same run (the floor of the stack)."""

from __future__ import annotations

import http.client
import json
import os
import re
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import insert

from gateway.db import make_engine, session_scope
from gateway.home import init_home
from gateway.models.case import Case
from gateway.models.child import Child
from gateway.settings import load_settings
from gateway.users import Role, add_user

N_CASES = int(os.environ.get("BENCH_WEB_CASES", "5000"))
REQUESTS = int(os.environ.get("BENCH_WEB_REQUESTS", "400"))
CLIENTS = 4
PASSWORD = "load-test-password-not-secret"


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "web", **fields}), flush=True)


def seed(url: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.execute(insert(Child), [
            {"id": i + 1, "forenames": f"Child{i}", "surname": f"Family{i % 977}",
             "dob": date(2012 + i % 10, 1 + i % 12, 1 + i % 28), "other_names": [],
             "former_upns": [], "languages": [], "interpreter_needed": False}
            for i in range(N_CASES)])  # fmt: skip
        session.execute(insert(Case), [
            {"id": i + 1, "child_id": i + 1, "status": "logged", "escalations": {},
             "opened_on": date(2026, 11, 2), "version": 1} for i in range(N_CASES)])  # fmt: skip
        add_user(session, username="bench", password=PASSWORD, role=Role.OFFICER,
                 display_name="Bench Officer", totp=False, actor="bench")  # fmt: skip
    engine.dispose()


def sign_in(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/sign-in")
    resp = conn.getresponse()
    page = resp.read().decode()
    cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    body = urlencode({"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)})
    conn.request("POST", "/sign-in", body=body, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302, resp.status
    conn.close()
    return resp.headers["Set-Cookie"].split(";", 1)[0]


def rate(port: int, paths: list[str], cookie: str | None) -> float:
    """Requests per second with CLIENTS keep-alive connections sharing the list of paths."""
    chunks = [paths[i::CLIENTS] for i in range(CLIENTS)]
    errors: list[str] = []

    def worker(mine: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Cookie": cookie} if cookie else {}
        for path in mine:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(f"{path}: {resp.status}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    return len(paths) / elapsed


def main() -> None:
    from web.app import create_app
    from web.server import WebServer

    with tempfile.TemporaryDirectory(prefix="cme-bench-web-") as tmp:
        os.environ["CME_HOME"] = str(Path(tmp) / "home")
        settings = load_settings()
        init_home(settings)
        url = f"sqlite:///{settings.home / 'cme.db'}"
        seed(url)
        engine = make_engine(url)
        server = WebServer(create_app(settings, engine), "127.0.0.1", 0).start()
        try:
            cookie = sign_in(server.port)
            pages = max(1, N_CASES // 25)
            static = rate(server.port, ["/static/js/init.js"] * REQUESTS, None)
            emit(figure="static_requests_per_s", value=round(static, 1))
            listing = rate(
                server.port, [f"/cases?page={1 + i % pages}" for i in range(REQUESTS)], cookie
            )
            emit(figure="case_list_pages_per_s", value=round(listing, 1),
                 peer="static_requests_per_s", ratio=round(listing / static, 3))  # fmt: skip
            view = rate(server.port, [f"/cases/{1 + i % N_CASES}" for i in range(REQUESTS)], cookie)
            emit(figure="case_view_pages_per_s", value=round(view, 1),
                 peer="static_requests_per_s", ratio=round(view / static, 3))  # fmt: skip
            started = time.perf_counter()
            n = 10
            for _ in range(n):
                sign_in(server.port)
            emit(figure="sign_in_ms", value=round(1000 * (time.perf_counter() - started) / n, 1))
        finally:
            server.stop()
            engine.dispose()


if __name__ == "__main__":
    main()
