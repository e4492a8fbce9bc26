"""The gateway's tables, one module per area.

Importing this package registers only the tables every unit of work touches: the case,
the child and the referral (gateway/models/case.py brings all three) and the raw message
a referral comes from. Every other module is imported by the code that uses it, and
imports the modules its foreign keys point into, so a command pays only for the tables it
uses (`cme cases list` does not build the exchange's or the matching engine's mappers).
`all_metadata()` imports every module, for the migrations.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

import gateway.models.case
import gateway.models.intake  # noqa: F401  (referrals point at raw_messages)

if TYPE_CHECKING:
    from sqlalchemy import MetaData

#: The names this package re-exports, each loaded from its module on first use.
_EXPORTS = {
    "AuditEntry": "audit",
    "Carer": "child",
    "Case": "case",
    "Child": "child",
    "ChildAddress": "child",
    "EnquiryLogEntry": "case",
    "Job": "ops",
    "OutboxMessage": "ops",
    "Referral": "referral",
    "Sibling": "child",
    "Task": "case",
    "TimelineEntry": "case",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def import_all() -> None:
    """Register every table of the gateway (each module in this package)."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def all_metadata() -> list[MetaData]:
    """Every table the migrations own: the gateway's and the lost-pupil store's."""
    import lost_pupil.models  # noqa: F401  (registers its tables)
    from gateway.db import Base
    from lost_pupil.db import Base as LostPupilBase

    import_all()
    return [Base.metadata, LostPupilBase.metadata]


__all__ = [*sorted(_EXPORTS), "all_metadata", "import_all"]
