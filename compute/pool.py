"""Work spread over worker processes: items grouped into chunks, chunks mapped in order.

Workers are spawned, not forked: the function and initializer must be module-level, their arguments
picklable, and a script that calls `ordered_map` with more than one worker needs the
`if __name__ == "__main__":` guard.
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Tag = TypeVar("Tag")
Argument = TypeVar("Argument")
Result = TypeVar("Result")


def n_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def chunks(items: Iterable[Item], size: Callable[[Item], int], limit: int) -> Iterator[list[Item]]:
    """Consecutive items in lists, each closed as soon as the sizes of its items add up to `limit`."""
    chunk, total = [], 0
    for item in items:
        chunk.append(item)
        total += size(item)
        if total >= limit:
            yield chunk
            chunk, total = [], 0
    if chunk:
        yield chunk


def ordered_map(function: Callable[[Argument], Result], tasks: Iterable[tuple[Tag, Argument]],
                initializer: Callable[..., None], initargs: tuple = (),
                workers: int | None = None) -> Iterator[tuple[Tag, Result]]:
    """(tag, function(argument)) for each (tag, argument) of `tasks`, in their order.

    The arguments go to `workers` processes (default: all cores), each set up once by
    `initializer(*initargs)`; the tags stay in this process. At most two tasks per worker are in
    flight, so memory stays flat however many tasks come in. One worker: all of it in this process."""
    workers = workers or n_cores()
    if workers <= 1:
        initializer(*initargs)
        for tag, argument in tasks:
            yield tag, function(argument)
        return
    with multiprocessing.get_context("spawn").Pool(workers, initializer=initializer, initargs=initargs) as pool:
        pending = deque()
        for tag, argument in tasks:
            pending.append((tag, pool.apply_async(function, (argument,))))
            if len(pending) >= 2 * workers:
                tag, result = pending.popleft()
                yield tag, result.get()
        while pending:
            tag, result = pending.popleft()
            yield tag, result.get()
