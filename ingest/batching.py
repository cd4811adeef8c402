"""When the open batch goes to the writer: group commit, so low load is not delayed and high load batches.

An idle writer takes whatever is waiting at once, even one message: waiting for a batch to fill or age
only adds latency when nothing else is being committed. While a commit is in flight the open batch keeps
growing, so under load each commit carries everything that arrived during the previous one, and neither
side waits for the other. Only a batch at the limit is handed over to a busy writer (``submit`` then
waits for the commit in flight), which bounds memory and the number of unacknowledged messages.
"""

from __future__ import annotations


def hand_over_now(readings: int, *, open_messages: int, writer_busy: bool, limit_readings: int) -> bool:
    """True when the open batch (``open_messages`` messages, ``readings`` readings) should go to the writer."""
    if open_messages == 0:
        return False
    return not writer_busy or readings >= limit_readings
