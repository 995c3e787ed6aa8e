"""The worker pool: chunks cut by size, results in input order with their tags, in or out of process."""
from __future__ import annotations

import os

from compute.pool import chunks, n_cores, ordered_map

_OFFSET = None


def _set_offset(offset: int) -> None:
    global _OFFSET
    _OFFSET = offset


def _shifted_sum(numbers: list[int]) -> tuple[int, int]:
    return sum(numbers) + _OFFSET, os.getpid()


def test_chunks_close_once_their_size_reaches_the_limit():
    words = ["ab", "c", "", "defg", "h", "ij", "k"]
    assert list(chunks(words, len, 3)) == [["ab", "c"], ["", "defg"], ["h", "ij"], ["k"]]
    assert list(chunks([], len, 3)) == []
    assert list(chunks(words, lambda word: 0, 3)) == [words]   # nothing counted: one chunk


def test_ordered_map_keeps_order_and_tags_across_workers():
    tasks = [(f"task {i}", list(range(i))) for i in range(40)]
    expected = [(f"task {i}", i * (i - 1) // 2 + 100) for i in range(40)]  # 0 + 1 + ... + (i-1), plus the offset

    parallel = list(ordered_map(_shifted_sum, iter(tasks), _set_offset, (100,), workers=2))
    assert [(tag, total) for tag, (total, _) in parallel] == expected
    assert os.getpid() not in {pid for _, (_, pid) in parallel}           # computed in other processes

    serial = list(ordered_map(_shifted_sum, iter(tasks), _set_offset, (100,), workers=1))
    assert [(tag, total) for tag, (total, _) in serial] == expected
    assert {pid for _, (_, pid) in serial} == {os.getpid()}               # one worker: this process


def test_n_cores_is_what_this_process_may_use():
    assert 1 <= n_cores() <= (os.cpu_count() or 1)
