"""The worker's output partitioner places every key where Kafka's default partitioner (and faust) would."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.outputs import KeyPartitioner


@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=50), st.integers(min_value=1, max_value=48))
def test_same_partition_as_kafkas_default_partitioner(keys: list[bytes], count: int) -> None:
    partitions = list(range(count))
    remembering = KeyPartitioner(size=8)  # small: the forgetting path runs too
    for key in keys + keys:
        assert remembering(key, partitions, partitions) == DefaultPartitioner()(key, partitions, [])


def test_a_key_is_required() -> None:
    with pytest.raises(ValueError, match="key"):
        KeyPartitioner()(None, [0, 1], [0, 1])
