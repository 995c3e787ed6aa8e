"""The same work in this process, in local worker processes, or on Ray actors across a cluster.

A job is a `setup` (what a worker builds once: a model loaded, a tracer built) and a `work`
function applied to that state and one block at a time (a block of facts, a corpus shard):
`work(state, block)`. `workers(setup, ray_address)` gives a pool that maps `work` over blocks and
yields (block, result) as each block finishes.

On Ray there is one actor per GPU of the cluster, or per CPU slot when it has none; each runs
`setup` once. An actor that dies (its process killed, its node lost) is restarted by Ray, which
runs `setup` again and retries the blocks it held; `work` must therefore be idempotent per block
(the callers write each block's output under the block's own name, skipping a block whose output
is there, so a block retried after its output was written writes nothing twice). `setup` and `work`
travel by reference: module-level functions (or functools.partial of them), importable on every
node (factroots installed there, as the model is reachable there).

Ray is an optional extra, imported only when a Ray address is given.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, TypeVar

from compute.pool import ordered_map

Block = TypeVar("Block")
State = Any
Setup = Callable[[], State]
Work = Callable[[State, Block], Any]

RETRIES = 3          # restarts of a dead actor, and retries of the blocks it held
IN_FLIGHT = 2        # blocks queued per worker, so that none waits between blocks
_END = object()


def import_ray():
    """The ray module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray, an optional extra: pip install -e '.[ray]'") from None
    return ray


class _Local:
    """Workers in this process (n = 1) or in n spawned processes (compute.pool), each set up once."""

    remote = False

    def __init__(self, setup: Setup, n: int):
        self.setup, self.n, self._state = setup, n, None

    def _own_state(self) -> State:
        if self._state is None:
            self._state = self.setup()
        return self._state

    def ask(self, question: Callable[[State], Any]) -> Any:
        """question(state) on a worker's state (here: this process's)."""
        return question(self._own_state())

    def map(self, work: Work, blocks: Iterable[Block]) -> Iterator[tuple[Block, Any]]:
        if self.n <= 1:
            state = self._own_state()
            for block in blocks:
                yield block, work(state, block)
            return
        tasks = ((block, (work, block)) for block in blocks)
        yield from ordered_map(_run_in_process, tasks, _set_up_process, (self.setup,), self.n)


_PROCESS_STATE = None


def _set_up_process(setup: Setup) -> None:
    global _PROCESS_STATE
    _PROCESS_STATE = setup()


def _run_in_process(argument: tuple[Work, Block]):
    work, block = argument
    return work(_PROCESS_STATE, block)


class _Actor:
    """A Ray actor holding one worker's state."""

    def __init__(self, setup: Setup):
        self.state = setup()

    def ask(self, question: Callable[[State], Any]) -> Any:
        return question(self.state)

    def run(self, work: Work, block: Block) -> Any:
        return work(self.state, block)

    def pid(self) -> int:
        return os.getpid()


class _Ray:
    """One actor per GPU (or CPU slot) of the cluster; blocks go to the least busy actor."""

    remote = True

    def __init__(self, ray, setup: Setup, n: int | None):
        self.ray = ray
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        options = {"num_gpus": 1, "num_cpus": 0} if gpus else {"num_cpus": 1}
        actor = ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)(_Actor).options(**options)
        # The setup goes to the object store once, and this reference keeps it there while the pool
        # lives, so that an actor restarted after a crash still finds its constructor's argument.
        self.setup = ray.put(setup)
        self.actors = [actor.remote(self.setup) for _ in range(n or gpus or cpus)]

    def _get(self, ref):
        """ray.get, raising the worker's own error (not Ray's wrapper) so that it reads as one line."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            raise (cause if isinstance(cause, Exception) else error) from None

    def ask(self, question: Callable[[State], Any]) -> Any:
        return self._get(self.actors[0].ask.remote(question))

    def pids(self) -> list[int]:
        """The actors' process ids (for tests that kill one)."""
        return [self._get(actor.pid.remote()) for actor in self.actors]

    def map(self, work: Work, blocks: Iterable[Block]) -> Iterator[tuple[Block, Any]]:
        blocks = iter(blocks)
        busy = {i: 0 for i in range(len(self.actors))}
        pending: dict = {}   # ref -> (block, actor index)

        def submit() -> bool:
            block = next(blocks, _END)
            if block is _END:
                return False
            i = min(busy, key=busy.get)
            pending[self.actors[i].run.remote(work, block)] = (block, i)
            busy[i] += 1
            return True

        while len(pending) < IN_FLIGHT * len(self.actors) and submit():
            pass
        while pending:
            [ready], _ = self.ray.wait(list(pending), num_returns=1)
            block, i = pending.pop(ready)
            busy[i] -= 1
            result = self._get(ready)
            submit()
            yield block, result

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


@contextmanager
def workers(setup: Setup, ray_address: str | None = None, n: int | None = None):
    """A pool of workers each holding setup()'s state: `ask(question)` runs question(state) on one,
    `map(work, blocks)` yields (block, work(state, block)) as blocks finish; `remote` says whether
    they are Ray actors.

    ray_address None: local, `n` processes (default 1: this process). Otherwise Ray: "" starts or
    joins a Ray on this machine (ray.init()), "auto" joins the running cluster, anything else is
    the cluster's address; `n` actors (default: one per GPU, else one per CPU). A Ray started here
    is shut down at the end."""
    if ray_address is None:
        yield _Local(setup, n or 1)
        return
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=ray_address or None, log_to_driver=False, logging_level="warning")
    pool = None
    try:
        pool = _Ray(ray, setup, n)
        yield pool
    finally:
        if pool is not None:
            pool.close()
        if started:
            ray.shutdown()
