from streams.stall import Progress


def test_a_worker_reading_nothing_while_records_wait_is_stalled_after_the_limit() -> None:
    progress = Progress(after_s=30)
    assert progress.update({"p0": 5}, {"p0": 10}, now=0) is None
    assert progress.update({"p0": 5}, {"p0": 10}, now=10) is None  # not yet 30 s
    assert progress.update({"p0": 5}, {"p0": 10}, now=40) == 30


def test_reading_or_having_nothing_to_read_is_not_a_stall() -> None:
    progress = Progress(after_s=30)
    progress.update({"p0": 5}, {"p0": 10}, now=0)
    assert progress.update({"p0": 4}, {"p0": 11}, now=100) is None  # it moved
    assert progress.update({"p0": 0}, {"p0": 11}, now=200) is None  # idle, nothing waiting
    assert progress.update({"p0": 0}, {"p0": 11}, now=300) is None
    assert progress.update({"p0": 3}, {"p0": 11}, now=301) is None  # records arrive: the clock starts now
    assert progress.update({"p0": 3}, {"p0": 11}, now=331) == 30


def test_a_new_partition_counts_as_movement() -> None:
    progress = Progress(after_s=1)
    progress.update({"p0": 5}, {"p0": 10}, now=0)
    assert progress.update({"p0": 5, "p1": 2}, {"p0": 10, "p1": 0}, now=5) is None
