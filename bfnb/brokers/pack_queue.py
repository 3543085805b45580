"""How a packing broker sees its queue: several queued jobs sent as one request.

A worker that takes a job of a broker whose ``packs`` is True asks the broker's public hook
``take_more(first, queue)`` which jobs go in the same request.  ``queue`` is a :class:`PackQueue`:
the queued jobs in order (:meth:`PackQueue.pop`), any of which can go back (:meth:`PackQueue.put_back`).
The broker sees jobs only, never the pool's entries or their states.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .jobs import QUEUED, TAKEN, Entry, Job

__all__ = ["PackQueue", "pack"]


class PackQueue:
    """The queue as a packing broker sees it in ``take_more``: queued jobs in order, put back at will."""

    __slots__ = ("_queue", "_taken")

    def __init__(self, queue: asyncio.Queue[Entry]) -> None:
        self._queue = queue
        self._taken: dict[str, Entry] = {}

    def pop(self) -> Job | None:
        """The next queued job (None: the queue is empty); it is sent unless :meth:`put_back`."""
        queue = self._queue
        while not queue.empty():
            entry = queue.get_nowait()
            if entry.state == QUEUED:
                self._taken[entry.job.key] = entry
                return entry.job
        return None

    def put_back(self, job: Job) -> None:
        """Return a popped job to the end of the queue."""
        entry = self._taken.pop(job.key)
        self._queue.put_nowait(entry)


def pack(first: Entry, queue: asyncio.Queue[Entry], take_more: Callable[[Job, PackQueue], list[Job]]) -> list[Entry]:
    """``first`` and the queued entries ``take_more`` packs with it, all marked taken."""
    view = PackQueue(queue)
    jobs = take_more(first.job, view)
    group, taken = [first], view._taken
    for job in jobs:
        if job is first.job:
            continue
        entry = taken.pop(job.key)
        entry.state = TAKEN
        group.append(entry)
    for entry in taken.values():  # popped, neither packed nor put back: back in the queue
        queue.put_nowait(entry)
    return group
