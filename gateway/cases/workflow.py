"""The workflow held as data: statuses, allowed transitions, outcomes, escalations."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

CLOSED = "closed"
# The default workflow's stages that recorded work moves a case to (a council's own file
# may lack one: then nothing moves, see Workflow.path_to).
CHECKING_STATUS = "checking_status"
LOCATING = "locating"
ASSESSING_NEEDS = "assessing_needs"
SECURING_PLACE = "securing_place"
MOVED_OUT = "moved_out_tracking"


class WorkflowError(ValueError):
    """A move the workflow does not allow; the message says what is allowed."""


@dataclass(frozen=True)
class Outcome:
    code: str
    label: str
    needs: tuple[str, ...]
    manager_signoff: bool


@dataclass(frozen=True)
class Workflow:
    initial: str
    statuses: dict[str, str]
    transitions: dict[str, tuple[str, ...]]
    outcomes: dict[str, Outcome]
    escalations: dict[str, str]

    def path_to(self, current: str, target: str) -> list[str] | None:
        """The shortest run of allowed moves from current to target (the statuses after
        current, target last); [] when already there, None when no run of moves gets there."""
        if current == target:
            return []
        came_from: dict[str, str] = {current: current}
        frontier = [current]
        while frontier:
            following: list[str] = []
            for status in frontier:
                for nxt in self.transitions.get(status, ()):
                    if nxt in came_from or nxt == CLOSED:
                        continue
                    came_from[nxt] = status
                    if nxt == target:
                        path = [nxt]
                        while came_from[path[-1]] != current:
                            path.append(came_from[path[-1]])
                        return path[::-1]
                    following.append(nxt)
            frontier = following
        return None

    def check_move(self, current: str, target: str) -> None:
        if target not in self.statuses:
            raise WorkflowError(
                f"unknown status {target!r}; statuses are: {', '.join(self.statuses)}"
            )
        if target == CLOSED:
            raise WorkflowError("use 'close' with an outcome to close a case")
        if current == CLOSED:
            raise WorkflowError("the case is closed; reopen it before moving it")
        allowed = self.transitions.get(current, ())
        if target not in allowed:
            choices = ", ".join(allowed) or "none"
            raise WorkflowError(
                f"a case cannot move from {current} to {target}; allowed: {choices}"
            )

    def check_close(
        self, current: str, outcome: str, detail: dict[str, Any], manager: str | None
    ) -> Outcome:
        if current == CLOSED:
            raise WorkflowError("the case is already closed")
        if outcome not in self.outcomes:
            raise WorkflowError(
                f"unknown outcome {outcome!r}; outcomes are: {', '.join(self.outcomes)}"
            )
        spec = self.outcomes[outcome]
        missing = [k for k in spec.needs if not detail.get(k)]
        if missing:
            raise WorkflowError(f"closing as {outcome} needs: {', '.join(missing)}")
        if spec.manager_signoff and not manager:
            raise WorkflowError(f"closing as {outcome} needs a manager's sign-off (--manager)")
        return spec


def _build(data: dict[str, Any], source: str) -> Workflow:
    try:
        statuses = dict(data["statuses"])
        transitions = {k: tuple(v) for k, v in data["transitions"].items()}
        outcomes = {
            code: Outcome(
                code, o["label"], tuple(o.get("needs", ())), bool(o.get("manager_signoff", False))
            )
            for code, o in data["outcomes"].items()
        }
        wf = Workflow(data["initial"], statuses, transitions, outcomes, dict(data["escalations"]))
    except (KeyError, TypeError) as exc:
        raise WorkflowError(f"workflow file {source} is missing {exc}") from None
    for src, targets in wf.transitions.items():
        for t in (src, *targets):
            if t not in wf.statuses:
                raise WorkflowError(f"workflow file {source}: unknown status {t!r} in transitions")
    if wf.initial not in wf.statuses or CLOSED not in wf.statuses:
        raise WorkflowError(f"workflow file {source}: needs the initial status and 'closed'")
    return wf


@cache
def load_workflow(path: str = "") -> Workflow:
    """The packaged workflow, or a local authority's own file."""
    if path:
        text = Path(path).read_text("utf-8")
        source = path
    else:
        text = resources.files("gateway.cases").joinpath("workflow.toml").read_text("utf-8")
        source = "gateway/cases/workflow.toml"
    return _build(tomllib.loads(text), source)
