"""A pool of Ray actors, one ``Worker`` each, fed by the driver; a task whose actor died (its
node was lost) goes to another actor, so every task runs at least once.

Plain actors rather than Ray Data's ``map_batches`` with an actor class: the driver must see
each result as it comes (it alone appends the manifest), a video's segments are a handful of
long tasks with state (the smoothing) that are not rows of a dataset, and what happens when a
node dies stays in this loop, small enough to read: its tasks move at once to the actors left,
none is restarted where no node could host it, and nothing else (no dataset coordinator, no
Ray Data system actors) runs in the cluster.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError

from background_replacement.batch.worker import JobOptions, Worker

IN_FLIGHT_PER_ACTOR = 2  # photos: one running, one queued behind it, never waiting on the driver


@dataclass(frozen=True)
class Task:
    """One call of a ``Worker`` method; ``key`` names it to the caller."""

    key: Any
    method: str
    args: tuple


class NoWorkersLeft(RuntimeError):
    """Every actor died with tasks left; a rerun finishes them."""


def actor_count(cpus_per_actor: float) -> int:
    """As many actors as the cluster's CPUs hold (at least one)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_actor))


class ActorPool:
    """``count`` actors of ``Worker(options, threads)``, spread over the nodes."""

    def __init__(self, options: JobOptions, count: int, cpus_per_actor: float = 1) -> None:
        remote = ray.remote(Worker).options(num_cpus=cpus_per_actor, max_restarts=0,
                                            max_task_retries=0, scheduling_strategy="SPREAD")
        threads = max(1, int(cpus_per_actor))
        self.actors = [remote.remote(options, threads) for _ in range(count)]
        self.moved = 0  # tasks sent again because their actor died

    def run(self, tasks: Iterable[Task], on_result: Callable[[Task, Any], None],
            on_error: Callable[[Task, BaseException], None],
            per_actor: int = IN_FLIGHT_PER_ACTOR) -> None:
        """Run every task, at most ``per_actor`` at once on an actor, the least loaded first;
        ``on_result(task, value)`` or ``on_error(task, exception)`` (the task's own exception,
        not retried) on the driver as each ends. Raises ``NoWorkersLeft`` when no actor is
        alive and tasks remain."""
        waiting = deque(tasks)
        running: dict[ray.ObjectRef, tuple[Task, Any]] = {}
        load = {actor: 0 for actor in self.actors}
        while waiting or running:
            while waiting and load and min(load.values()) < per_actor:
                actor = min(load, key=load.__getitem__)
                task = waiting.popleft()
                running[getattr(actor, task.method).remote(*task.args)] = (task, actor)
                load[actor] += 1
            if not running:
                raise NoWorkersLeft(f"every worker died; {len(waiting)} task(s) left")
            [ref], _ = ray.wait(list(running), num_returns=1)
            task, actor = running.pop(ref)
            try:
                value = ray.get(ref)
            except RayActorError:  # its actor (or node) died: the task goes to another
                load.pop(actor, None)
                waiting.appendleft(task)
                self.moved += 1
                continue
            except RayTaskError as error:  # the worker's own exception, as raised there
                on_error(task, error.cause if isinstance(error.cause, Exception)
                         else error.as_instanceof_cause())
            else:
                on_result(task, value)
            if actor in load:
                load[actor] -= 1

    def close(self) -> None:
        """End the actors now (they would end with the driver anyway)."""
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
