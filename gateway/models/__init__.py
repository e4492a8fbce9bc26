"""The gateway's tables; every module in this package is imported so Alembic sees it."""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

from gateway.db import Base

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")

from gateway.models.audit import AuditEntry  # noqa: E402
from gateway.models.case import Case, EnquiryLogEntry, Task, TimelineEntry  # noqa: E402
from gateway.models.child import Carer, Child, ChildAddress, Sibling  # noqa: E402
from gateway.models.ops import Job, OutboxMessage  # noqa: E402
from gateway.models.referral import Referral  # noqa: E402


def all_metadata() -> list[MetaData]:
    """Every table the migrations own: gateway's (all imported above) and the lost-pupil store's."""
    import lost_pupil.models  # noqa: F401  (registers its tables)
    from lost_pupil.db import Base as LostPupilBase

    return [Base.metadata, LostPupilBase.metadata]


__all__ = [
    "AuditEntry",
    "Carer",
    "Case",
    "Child",
    "ChildAddress",
    "EnquiryLogEntry",
    "Job",
    "OutboxMessage",
    "Referral",
    "Sibling",
    "Task",
    "TimelineEntry",
    "all_metadata",
]
