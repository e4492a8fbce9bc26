"""A throwaway Dovecot IMAP server on a loopback port, in a temp folder, run as `nobody`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "intake-deps.sh"
NOBODY = 65534


class Unavailable(RuntimeError):
    """Dovecot is not installed and could not be installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> str:
    """The dovecot binary, installing `dovecot-imapd` through the project script if missing."""
    found = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if found:
        return found
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, check=False)
    found = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if not found:
        raise Unavailable(f"dovecot could not be installed: {result.stderr.strip()[-300:]}")
    return found


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login{mechanisms}
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
mail_location = maildir:~/Maildir
# No keep-alive in IDLE before the poller's 10-minute renewal: only real news wakes it.
imap_idle_notify_interval = 15 mins
{oauth2_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Processed {{
    auto = create
  }}
  mailbox Quarantine {{
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0600
  }}
}}
"""


@dataclass
class Dovecot:
    folder: Path
    port: int
    user: str
    password: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {folder}/oauth2.conf.ext
}}
"""
# Dovecot asks this URL whether a bearer token is live and whose it is (RFC 7662).
OAUTH2_CONF = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


def start_dovecot(
    user: str = "cme",
    password: str = "intake-secret",  # noqa: S107
    *,
    oauth2_introspection_url: str | None = None,
) -> Dovecot:
    """`oauth2_introspection_url`: also take XOAUTH2/OAUTHBEARER, checking tokens there."""
    binary = ensure_installed()
    folder = Path(tempfile.mkdtemp(prefix="cme-dovecot-"))
    port = free_port()
    as_root = os.geteuid() == 0
    uid, gid = (NOBODY, NOBODY) if as_root else (os.getuid(), os.getgid())
    import grp
    import pwd

    user_name = pwd.getpwuid(uid).pw_name
    group_name = grp.getgrgid(gid).gr_name
    for sub in ("run", "state", "home"):
        (folder / sub).mkdir()
    (folder / "users").write_text(f"{user}:{{PLAIN}}{password}\n")
    oauth2 = ""
    if oauth2_introspection_url:
        (folder / "oauth2.conf.ext").write_text(OAUTH2_CONF.format(url=oauth2_introspection_url))
        oauth2 = OAUTH2_PASSDB.format(folder=folder)
    (folder / "dovecot.conf").write_text(
        CONFIG.format(
            folder=folder, port=port, user=user_name, group=group_name, uid=uid, gid=gid,
            mechanisms=" xoauth2 oauthbearer" if oauth2 else "", oauth2_passdb=oauth2,
        )
    )  # fmt: skip
    if as_root:
        os.chmod(folder, 0o755)  # noqa: S103 (nobody must traverse it)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, uid, gid)
    cmd = [binary, "-F", "-c", str(folder / "dovecot.conf")]
    if as_root:
        # Dovecot refuses to serve logins as root: drop the whole server to nobody.
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Dovecot(folder, port, user, password, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = server.log()
            shutil.rmtree(folder, ignore_errors=True)
            raise Unavailable(f"dovecot exited: {err.strip()} {log.strip()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(100).startswith(b"* OK"):
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise Unavailable("dovecot did not start listening within 15 s")
