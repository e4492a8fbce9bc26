"""`cme init` and `cme run`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import click
from sqlalchemy import Engine

from gateway.cli.acting import no_user
from gateway.cli.context import engine, settings
from gateway.home import init_home
from gateway.runner import Stop
from gateway.settings import Settings


@click.command()
@no_user
def init() -> None:
    """Create the data home (CME_HOME, default ./var): database, keys, stores."""
    report = init_home(settings())
    click.echo(f"data home {report.home} ready (database {report.database})")
    for item in report.created:
        click.echo(f"  created {item}")


def _components(s: Settings) -> list[tuple[str, Callable[[Settings, Engine], Stop]]]:
    """Every component this installation runs beside the job worker."""
    found: list[tuple[str, Callable[[Settings, Engine], Stop]]] = []
    try:
        from gateway.intake.service import start_imap, start_smtp
    except ImportError:
        pass
    else:
        found.append(("smtp", start_smtp))
        if s.imap.enabled:
            found.append(("imap", start_imap))
    # The exchange sender: woken by the commit that queues a message, so an enquiry goes
    # out at once rather than at the next periodic tick (which still retries).
    from gateway.exchange.sender import start_sender

    found.append(("exchange-sender", start_sender))
    try:
        from web.server import start_web
    except ImportError:
        pass
    else:
        found.append(("web", start_web))
    return found


@click.command()
@click.option("--smtp-port", type=int, help="SMTP intake port (overrides smtp.port).")
@click.option("--web-port", type=int, help="Web console port (overrides web.port).")
@no_user
def run(smtp_port: int | None, web_port: int | None) -> None:
    """Run the service: job worker, SMTP intake, IMAP poller (if on), web console."""
    from gateway.runner import run as run_service

    s = settings()
    if smtp_port is not None:
        s = dataclasses.replace(s, smtp=dataclasses.replace(s.smtp, port=smtp_port))
    if web_port is not None:
        s = dataclasses.replace(s, web=dataclasses.replace(s.web, port=web_port))
    from gateway import logs
    from gateway.welcome import welcome_lines

    # A few lines a person reads on the terminal; every record, structured, in the log file.
    log_file = logs.configure(s)
    init_home(s)
    eng = engine(s)
    components = _components(s)

    def ready(name: str) -> None:
        if name == "worker":  # the runner names the worker last, once everything is up
            web = any(n == "web" for n, _start in components)
            for line in welcome_lines(s, eng, log_file=log_file, web=web):
                click.echo(line)

    run_service(s, eng, components, ready=ready)
    click.echo("cme: stopped", err=True)
