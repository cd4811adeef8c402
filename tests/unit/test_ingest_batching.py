"""Group commit: an idle writer takes the open batch at once; a busy one only when the batch is at its limit."""

from ingest.batching import hand_over_now


def test_idle_writer_takes_a_single_message_at_once() -> None:
    assert hand_over_now(1, open_messages=1, writer_busy=False, limit_readings=50_000)


def test_nothing_open_nothing_handed_over() -> None:
    assert not hand_over_now(0, open_messages=0, writer_busy=False, limit_readings=50_000)
    assert not hand_over_now(0, open_messages=0, writer_busy=True, limit_readings=0)


def test_batch_grows_while_the_writer_is_busy() -> None:
    assert not hand_over_now(49_999, open_messages=900, writer_busy=True, limit_readings=50_000)


def test_batch_at_its_limit_goes_to_a_busy_writer() -> None:
    assert hand_over_now(50_000, open_messages=900, writer_busy=True, limit_readings=50_000)


def test_message_of_only_refused_readings_still_counts() -> None:
    """A message whose readings were all quarantined still needs its commit (and its ack)."""
    assert hand_over_now(0, open_messages=1, writer_busy=False, limit_readings=50_000)
