"""The officer's dashboard at `/`: the page after sign-in, what needs them today."""

from __future__ import annotations

from flask import Blueprint, render_template

from gateway import audit
from gateway.cases import labels
from gateway.dashboard import dashboard
from gateway.db import utcnow
from gateway.timers import local_today
from gateway.users import Role
from web.access import require_user
from web.db import db, settings

bp = Blueprint("dashboard", __name__)

#: Each kind of task as a group of them, the way an officer counts what is overdue.
TASK_GROUPS = {
    "progress_update": "Progress updates to the referrer",
    "further_enquiries": "Further enquiries (missing information)",
    "first_contact": "First contact on urgent referrals",
    "status_request": "Status requests to other authorities",
    "home_visit": "Home visits",
    "escalation_review": "Escalation reviews",
    "phone_referrer": "Referrers to phone (no email address)",
    "post_letter": "Letters to post to referrers (no email address)",
    "parent_contact": "Urgent contact with parents",
    "claim_check": "Lost-pupil claims to check",
}


@bp.route("/")
def home() -> str:
    user = require_user()
    session = db()
    board = dashboard(session, user.username, local_today(settings(), utcnow()).date())
    # The page names the officer's children: a view of their records, on record first.
    audit.record(
        session, actor=user.username, action="dashboard.view", entity="case", entity_id=None,
        detail={"cases": [c.id for c in board.my_cases]},
    )  # fmt: skip
    session.commit()
    return render_template(
        "dashboard/home.html",
        board=board,
        task_groups=TASK_GROUPS,
        labels=labels,
        is_manager=user.has_role(Role.MANAGER),
    )
