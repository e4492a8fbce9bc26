"""A tiny W3C WebDriver client: drives Debian's headless Chromium through chromedriver."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
]


class BrowserUnavailable(RuntimeError):
    """chromium or chromedriver is not installed (scripts/chromium.sh installs them)."""


class WebDriverError(RuntimeError):
    """The browser refused a command; the message is chromedriver's own."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    if not chromium or not driver:
        raise BrowserUnavailable("chromium and chromedriver are needed: run scripts/chromium.sh")
    return chromium, driver


class Browser:
    """One chromedriver process and one browser session; use as a context manager."""

    def __init__(self) -> None:
        chromium, driver = find_binaries()
        self._profile = tempfile.TemporaryDirectory(prefix="cme-chromium-")
        self.port = _free_port()
        self._driver = subprocess.Popen(
            [driver, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_ready()
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [*CHROMIUM_ARGS, f"--user-data-dir={self._profile.name}"],
                    },
                }
            }
        }
        try:
            self.session_id = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self._stop_driver()
            raise
        self.url = f"/session/{self.session_id}"

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._driver.poll() is not None:
                raise BrowserUnavailable("chromedriver exited at start-up")
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.05)
        self._stop_driver()
        raise BrowserUnavailable("chromedriver did not become ready")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        req = urllib.request.Request(  # noqa: S310 (always http://127.0.0.1)
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 (loopback)
                payload = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("value", {})
            raise WebDriverError(f"{detail.get('error')}: {detail.get('message')}") from None
        return payload.get("value")

    # -- the commands the tests use ----------------------------------------------------------

    def get(self, url: str) -> None:
        self._call("POST", f"{self.url}/url", {"url": url})

    @property
    def current_url(self) -> str:
        return str(self._call("GET", f"{self.url}/url"))

    @property
    def title(self) -> str:
        return str(self._call("GET", f"{self.url}/title"))

    def find(self, css: str) -> str:
        found = self._call("POST", f"{self.url}/element", {"using": "css selector", "value": css})
        return str(found[ELEMENT])

    def find_all(self, css: str) -> list[str]:
        found = self._call("POST", f"{self.url}/elements", {"using": "css selector", "value": css})
        return [str(f[ELEMENT]) for f in found]

    def type(self, css: str, text: str) -> None:
        self._call("POST", f"{self.url}/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", f"{self.url}/element/{self.find(css)}/click", {})

    def text(self, css: str) -> str:
        return str(self._call("GET", f"{self.url}/element/{self.find(css)}/text"))

    def script(self, source: str, *args: Any) -> Any:
        body = {"script": source, "args": list(args)}
        return self._call("POST", f"{self.url}/execute/sync", body)

    def wait_for(self, css: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.find(css)
            except WebDriverError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def screenshot(self, path: Path) -> Path:
        png = base64.b64decode(self._call("GET", f"{self.url}/screenshot"))
        path.write_bytes(png)
        return path

    def quit(self) -> None:
        try:
            self._call("DELETE", self.url)
        except (OSError, WebDriverError):
            pass
        finally:
            self._stop_driver()

    def _stop_driver(self) -> None:
        if self._driver.poll() is None:
            self._driver.terminate()
            try:
                self._driver.wait(10)
            except subprocess.TimeoutExpired:
                self._driver.kill()
                self._driver.wait()
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.quit()
