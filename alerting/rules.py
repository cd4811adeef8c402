"""When a scored observation set raises or escalates an alert: pure functions, no I/O.

Raise when the (possibly partial) set is low-medium (a single parameter scored 3), medium (total ≥ 5) or
high (≥ 7); an incomplete set's partial total is a floor of the true one, so it counts. Below those, a
``trend`` alert is raised when the total has risen by ``settings.trend_rise_threshold`` above the
patient's own baseline and stayed there: the set's total *and* the median of the complete totals measured
in the last ``settings.trend_confirm_window`` must both reach baseline + threshold, so one noisy reading
does not page a nurse (alert fatigue is a clinical risk). The baseline is the median NEWS2 total of that
admission's *complete* readings in the ``trend_baseline_window`` before the confirm window, and only
exists with at least ``TREND_MIN_BASELINE_SETS`` of them (a few readings are no baseline); the recent
median needs ``TREND_MIN_RECENT_SETS``. One open alert per admission:
a strictly higher risk escalates it; the same or a lower risk raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerting.model import risk_rank
from vward.vocabulary import Risk, Trigger

TREND_MIN_BASELINE_SETS = 6
TREND_MIN_RECENT_SETS = 2
RAISING_RISKS: tuple[str, ...] = (Risk.LOW_MEDIUM, Risk.MEDIUM, Risk.HIGH)


@dataclass(frozen=True)
class LatestSet:
    """The current observation set of one admission, just scored."""

    admission_id: int
    observed_at: datetime  # measurement time of the newest reading in the set
    total: int  # partial total (a floor) when incomplete
    risk: str  # one of RISK_LEVELS, from the (partial) total and single-parameter 3s
    complete: bool
    sub_scores: tuple[int | None, ...]  # 7, order of news2.PARAMETERS, None = missing/stale


@dataclass(frozen=True)
class Baseline:
    """A patient's usual NEWS2 (median over the baseline window) and the median of the last readings."""

    usual: float
    recent: float


@dataclass(frozen=True)
class Raise:
    trigger: str
    risk: str


@dataclass(frozen=True)
class Escalate:
    risk: str


Decision = Raise | Escalate | None


def trigger_for(latest: LatestSet, baseline: Baseline | None, rise_threshold: int) -> str | None:
    """What about this set raises an alert on its own, or None."""
    if latest.risk in (Risk.MEDIUM, Risk.HIGH):
        return Trigger.NEWS2
    if latest.risk == Risk.LOW_MEDIUM:
        return Trigger.SINGLE_PARAMETER
    if is_trend(latest.total, baseline, rise_threshold):
        return Trigger.TREND
    return None


def is_trend(total: int, baseline: Baseline | None, rise_threshold: int) -> bool:
    """A sustained rise: the current total and the recent median both at least usual + threshold."""
    return baseline is not None and min(total, baseline.recent) >= baseline.usual + rise_threshold


def needs_baseline(latest: LatestSet, open_risk: str | None, rise_threshold: int) -> bool:
    """Only a low set with no open alert can be decided by the trend, so only then is the baseline read.

    A usual total is a median of totals, so at least 0: a total under the threshold can never be a rise,
    and the (per admission, per batch) baseline query is skipped for the many patients scoring 0 or 1.
    """
    return latest.risk not in RAISING_RISKS and open_risk is None and latest.total >= rise_threshold


def decide(latest: LatestSet, *, open_risk: str | None, baseline: Baseline | None, rise_threshold: int) -> Decision:
    """Raise a new alert, escalate the open one (whose risk is ``open_risk``), or do nothing."""
    trigger = trigger_for(latest, baseline, rise_threshold)
    if open_risk is not None:
        if latest.risk in RAISING_RISKS and risk_rank(latest.risk) > risk_rank(open_risk):
            return Escalate(latest.risk)
        return None
    return Raise(trigger, latest.risk) if trigger is not None else None
