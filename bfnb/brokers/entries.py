"""Who waits on what inside a broker: its entries by key and the runs waiting on each.

A broker's :class:`~bfnb.brokers.pool.WorkerPool` sends; this book settles: a record goes to every
run waiting on its key (each distinct ``on_record`` once), a run stopped by cancel, budget or an
``on_record`` error leaves its unsent keys, and an entry nobody waits for leaves the queue and gives
back its budget reservation.  The counts of what is pending or retrying move with the entries.
"""

from __future__ import annotations

from ..ledger.records import CallRecord, Status
from .counters import Counters
from .jobs import BACKOFF, DROPPED, QUEUED, SENDING, TAKEN, Entry, OnRecord, Run

__all__ = ["EntryBook", "settle_budget"]


class EntryBook:
    """Entries by key (one per distinct key in flight) and how each ends."""

    __slots__ = ("by_key", "counters")

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.by_key: dict[str, Entry] = {}

    def deliver(self, entry: Entry, record: CallRecord) -> None:
        key = record.key
        self.by_key.pop(key, None)
        entry.state = DROPPED
        called: list[OnRecord] = []
        failed = record.status == Status.FAILED
        for run in entry.runs:
            run.results[key] = record
            run.waiting.discard(key)
            if failed:
                run.failed[key] = entry.job
            elif run.failed:
                run.failed.pop(key, None)
            if run.on_record not in called:
                called.append(run.on_record)
                try:
                    run.on_record(record)
                except Exception as exc:  # the caller could not persist it: stop that run, report
                    if run.error is None:
                        run.error = exc
                    self.stop_run(run, "error")
            if not run.waiting and not run.done.done():
                run.done.set_result(None)

    def detach(self, entry: Entry) -> None:
        settle_budget(entry, 0.0)
        for run in entry.runs:
            run.waiting.discard(entry.job.key)
            run.results.unsent.append(entry.job.key)
            if not run.waiting and not run.done.done():
                run.done.set_result(None)
        entry.runs = []
        self.drop(entry)

    def drop(self, entry: Entry) -> None:
        if entry.state == BACKOFF:
            if entry.handle is not None:
                entry.handle.cancel()
            self.counters.retrying -= 1
        elif entry.state in (QUEUED, TAKEN):
            self.counters.pending -= 1
        if entry.state != SENDING:
            settle_budget(entry, 0.0)
        entry.state = DROPPED
        self.by_key.pop(entry.job.key, None)

    def stop_run(self, run: Run, reason: str) -> None:
        """Stop dispatching ``run``: its unsent jobs leave the queue, calls in flight finish."""
        if run.results.stopped is not None:
            return
        run.results.stopped = reason
        for key in list(run.waiting):
            entry = self.by_key.get(key)
            if entry is None or entry.state == SENDING:
                continue
            run.waiting.discard(key)
            run.results.unsent.append(key)
            entry.runs.remove(run)
            if not entry.runs:
                self.drop(entry)
        if not run.waiting and not run.done.done():
            run.done.set_result(None)


def settle_budget(entry: Entry, actual: float | None) -> None:
    """Replace the entry's reservation by ``actual`` dollars (None: by the reservation itself)."""
    if entry.budget is not None:
        entry.budget.commit(entry.reserved_usd or 0.0, actual)
        entry.budget = None
