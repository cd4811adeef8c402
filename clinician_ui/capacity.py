"""Bed capacity arithmetic: utilisation against the 80% target, free beds, and daily occupancy history.

Pure functions over admission intervals; the census for a day is taken at the end of that day (midnight
census, as NHS bed returns do), or at ``now`` for today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

UTILISATION_TARGET = 0.80


@dataclass(frozen=True)
class WardLoad:
    ward_id: int
    code: str
    name: str
    pathway: str
    capacity: int
    occupied: int

    @property
    def free(self) -> int:
        return free_beds(self.occupied, self.capacity)

    @property
    def utilisation(self) -> float:
        return utilisation(self.occupied, self.capacity)


def utilisation(occupied: int, capacity: int) -> float:
    """Occupied / capacity; a ward with no beds is 0% used (not a division error)."""
    return occupied / capacity if capacity > 0 else 0.0


def free_beds(occupied: int, capacity: int) -> int:
    """Beds still free; never negative even if capacity was cut below the current occupancy."""
    return max(0, capacity - occupied)


def target_status(util: float, target: float = UTILISATION_TARGET) -> str:
    """'below', 'on' (within 5 points) or 'above' the target, for colouring the board."""
    if abs(util - target) <= 0.05:
        return "on"
    return "below" if util < target else "above"


def totals(wards: Iterable[WardLoad]) -> WardLoad:
    """All wards together, as one pseudo-ward."""
    ws = list(wards)
    return WardLoad(0, "all", "All virtual wards", "all", sum(w.capacity for w in ws), sum(w.occupied for w in ws))


def by_pathway(wards: Iterable[WardLoad]) -> list[WardLoad]:
    """Wards summed by clinical pathway, in first-seen order."""
    groups: dict[str, list[WardLoad]] = {}
    for w in wards:
        groups.setdefault(w.pathway, []).append(w)
    return [WardLoad(0, p, p, p, sum(w.capacity for w in ws), sum(w.occupied for w in ws)) for p, ws in groups.items()]


def census_times(days: int, now: datetime) -> list[tuple[date, datetime]]:
    """The last ``days`` days ending today (UTC), each with its census moment (end of day, or now for today)."""
    today = now.astimezone(UTC).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        out.append((day, min(end, now)))
    return out


def occupancy_series(
    intervals: Sequence[tuple[datetime, datetime | None]], census: Sequence[tuple[date, datetime]]
) -> list[int]:
    """Beds occupied at each census moment: admitted at or before it and not yet discharged by then."""
    return [sum(1 for adm, dis in intervals if adm <= at and (dis is None or dis > at)) for _day, at in census]


CapacityChange = tuple[int, datetime | None, int]  # ward_id, from when (None: since always), beds


def capacity_series(changes: Sequence[CapacityChange], census: Sequence[tuple[date, datetime]]) -> list[int]:
    """Beds across all wards at each census moment: per ward, its last change at or before that moment
    (a ward with none yet has no beds)."""
    always = datetime.min.replace(tzinfo=UTC)
    ordered = [(ward_id, since or always, n) for ward_id, since, n in sorted(changes, key=lambda c: c[1] or always)]
    out = []
    for _day, at in census:
        beds = {ward_id: n for ward_id, since, n in ordered if since <= at}  # a later change overwrites
        out.append(sum(beds.values()))
    return out


def utilisation_series(
    intervals: Sequence[tuple[datetime, datetime | None]],
    census: Sequence[tuple[date, datetime]],
    changes: Sequence[CapacityChange],
) -> list[float]:
    """Daily utilisation against the capacity of that day (see ``capacity_series``)."""
    occupied, beds = occupancy_series(intervals, census), capacity_series(changes, census)
    return [utilisation(n, c) for n, c in zip(occupied, beds, strict=True)]
