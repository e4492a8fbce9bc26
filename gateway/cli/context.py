"""What every command needs: the settings, the engine and who is acting."""

from __future__ import annotations

import json
from typing import Any

import click

from gateway.cli.acting import actor as actor  # who is acting: gateway/cli/acting.py
from gateway.cli.session import engine as engine
from gateway.cli.session import settings as settings
from gateway.cli.session import unit_of_work as unit_of_work


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))
