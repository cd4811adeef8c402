"""Group commit: an idle writer takes the open batch at once; a busy one only when the batch is at its limit."""

from ingest.batching import hand_over_now

LIMIT, SPACING = 50_000, 0.02


def due(readings: int, messages: int, *, busy: bool, since_last_s: float = 1.0) -> bool:
    return hand_over_now(
        readings,
        open_messages=messages,
        writer_busy=busy,
        limit_readings=LIMIT,
        since_last_s=since_last_s,
        min_interval_s=SPACING,
    )


def test_idle_writer_takes_a_single_message_at_once() -> None:
    assert due(1, 1, busy=False)


def test_nothing_open_nothing_handed_over() -> None:
    assert not due(0, 0, busy=False)
    assert not due(0, 0, busy=True)


def test_batch_grows_while_the_writer_is_busy() -> None:
    assert not due(LIMIT - 1, 900, busy=True)


def test_batch_at_its_limit_goes_to_a_busy_writer() -> None:
    assert due(LIMIT, 900, busy=True)
    assert due(LIMIT, 900, busy=True, since_last_s=0.0)


def test_hand_overs_are_spaced() -> None:
    """Right after a short commit the next batch waits out the spacing; once it has passed it goes."""
    assert not due(10, 10, busy=False, since_last_s=SPACING / 2)
    assert due(10, 10, busy=False, since_last_s=SPACING)


def test_message_of_only_refused_readings_still_counts() -> None:
    """A message whose readings were all quarantined still needs its commit (and its ack)."""
    assert due(0, 1, busy=False)
