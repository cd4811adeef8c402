"""Which processes are alive, from their heartbeats (pure), and what clinicians are told when one is not.

A component is alive while its newest instance beat within ``stale_after_s``; several hubs or ingest
processes count as one component, since any live one does the work. The alert path depends on ingest
(readings become alerts) and the hub (clocks, reminders, escalations, push): when either is silent every
clinician page shows a banner and the coordinators are pushed a notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vward.heartbeat import Heartbeat

ALERT_PATH = ("ingest", "hub")
COMPONENTS = ("ingest", "hub", "web")
_NAMES = {"hub": "Alert hub", "ingest": "Readings ingest", "web": "Web app"}
_CONSEQUENCES = {
    "hub": "escalations and push paused; watch the queue",
    "ingest": "new readings and their alerts are not arriving; phone patients whose readings are due",
}


@dataclass(frozen=True, slots=True)
class ComponentState:
    name: str
    last_beat_at: datetime | None
    age_s: float | None
    alive: bool


def states(
    beats: Iterable[Heartbeat], *, now: datetime, stale_after_s: float, names: Sequence[str] = COMPONENTS
) -> dict[str, ComponentState]:
    """Each component's newest beat and whether it is recent enough; one that never beat is not alive."""
    newest: dict[str, datetime] = {}
    for b in beats:
        if b.component not in newest or b.beat_at > newest[b.component]:
            newest[b.component] = b.beat_at
    result = {}
    for name in names:
        last = newest.get(name)
        age = None if last is None else max(0.0, (now - last).total_seconds())
        result[name] = ComponentState(name, last, age, age is not None and age <= stale_after_s)
    return result


def outage_text(state: ComponentState) -> str:
    """The banner's words for a silent component, e.g. "Alert hub offline since 17:29 UTC — ..."."""
    name = _NAMES.get(state.name, state.name)
    consequence = _CONSEQUENCES.get(state.name, "")
    if state.last_beat_at is None:
        head = f"{name} not running (no heartbeat recorded)"
    else:
        head = f"{name} offline since {state.last_beat_at.astimezone(UTC):%H:%M} UTC"
    return f"{head} — {consequence}" if consequence else head


def outages(component_states: dict[str, ComponentState]) -> list[dict[str, str | None]]:
    """The alert path's silent components, as the banner shows them (component, since, text)."""
    return [
        {
            "component": s.name,
            "since": s.last_beat_at.isoformat() if s.last_beat_at else None,
            "text": outage_text(s),
        }
        for name in ALERT_PATH
        if not (s := component_states[name]).alive
    ]
