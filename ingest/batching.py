"""When the open batch goes to the writer: group commit, so low load is not delayed and high load batches.

An idle writer takes whatever is waiting at once, even one message: waiting for a batch to fill or age
only adds latency when nothing else is being committed. While a commit is in flight the open batch keeps
growing, so under load each commit carries everything that arrived during the previous one, and neither
side waits for the other. Only a batch at the limit is handed over to a busy writer (``submit`` then
waits for the commit in flight), which bounds memory and the number of unacknowledged messages.

Hand-overs are spaced at least ``min_interval_s`` apart. Pure group commit keeps the writer busy
whenever anything at all arrives during a commit, so at a steady few thousand messages a second it would
commit small batches back to back and spend its CPU on each commit's fixed cost, on the same cores as
decoding, PostgreSQL and the broker. A few milliseconds of spacing caps that cost and adds at most that
much latency; a commit longer than the spacing adds nothing.
"""

from __future__ import annotations


def hand_over_now(
    readings: int,
    *,
    open_messages: int,
    writer_busy: bool,
    limit_readings: int,
    since_last_s: float,
    min_interval_s: float,
) -> bool:
    """True when the open batch (``open_messages`` messages, ``readings`` readings) should go to the writer.

    ``since_last_s`` is the time since the previous batch was handed over.
    """
    if open_messages == 0:
        return False
    if readings >= limit_readings:
        return True
    return not writer_busy and since_last_s >= min_interval_s
