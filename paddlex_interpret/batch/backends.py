"""Where the items of a job run: ``serial`` (this process), ``processes`` (local worker processes,
spawn start method) or ``ray`` (Ray actors, on the user's cluster or a local one).

Every backend is a generator ``run(payloads)`` that pulls payloads lazily (at most
``max_in_flight`` unfinished at a time, so memory is bounded by the worker count, not the dataset)
and yields one result per payload, in the order they finish. Workers load the model once from its
:class:`~.spec.ModelSpec` and set their CPU threads before Paddle is imported. Closing the
generator (the job finished, failed or was interrupted) stops the workers.
"""
from __future__ import annotations

import os
import queue
import signal
from contextlib import contextmanager
from typing import Iterator, Optional

from .spec import ModelSpec, thread_environment
from .tasks import run_payload

__all__ = ["BACKENDS", "serial", "processes", "ray_backend", "default_workers", "WorkerStartError"]

BACKENDS = ("serial", "processes", "ray")


class WorkerStartError(RuntimeError):
    """A worker could not load the model or the task's assets."""


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _first_error(text: str) -> str:
    return text.strip().splitlines()[-1] if text and text.strip() else text


def serial(classifier, task, payloads: Iterator[dict], **_) -> Iterator[dict]:
    """Run each payload here, one after the other."""
    state = task.setup()
    for payload in payloads:
        yield run_payload(classifier, task, payload, state, worker="main")


# -- local processes ------------------------------------------------------------------------------
@contextmanager
def _environment(values: dict):
    """``os.environ`` with ``values`` while worker processes start (they inherit it); restored after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _process_worker(spec: ModelSpec, task, threads: int, tasks, results, wid: int) -> None:
    """A worker process: threads fixed before Paddle loads, the model loaded once, then payloads
    until the ``None`` sentinel. Ctrl-C is the driver's business (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(thread_environment(threads))
    try:
        classifier = spec.load(threads=threads)
        state = task.setup()
    except BaseException as exc:  # report why, then leave
        results.put(("fatal", wid, f"{type(exc).__name__}: {exc}"))
        return
    results.put(("ready", wid, None))
    while True:
        payload = tasks.get()
        if payload is None:
            break
        results.put(("start", wid, payload["key"]))
        results.put(("done", wid, run_payload(classifier, task, payload, state, worker=f"process-{wid}")))


def processes(spec: ModelSpec, task, payloads: Iterator[dict], workers: int, threads: int,
              max_in_flight: Optional[int] = None, **_) -> Iterator[dict]:
    """Run the payloads on ``workers`` local processes (spawn), ``threads`` CPU threads each. A worker
    that dies (e.g. killed for memory) fails the item it held and is replaced."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    limit = max_in_flight or 2 * workers
    procs, current = {}, {}

    def start(wid):
        proc = ctx.Process(target=_process_worker, args=(spec, task, threads, tasks, results, wid), daemon=True,
                           name=f"paddlex-interpret-batch-{wid}")
        with _environment(thread_environment(threads)):
            proc.start()
        procs[wid] = proc

    in_flight, exhausted, next_wid, restarts = set(), False, workers, 0
    source = iter(payloads)
    try:
        for wid in range(workers):
            start(wid)
        while True:
            while not exhausted and len(in_flight) < limit:
                payload = next(source, None)
                if payload is None:
                    exhausted = True
                    break
                in_flight.add(payload["key"])
                tasks.put(payload)
            if exhausted and not in_flight:
                return
            try:
                kind, wid, value = results.get(timeout=1.0)
            except queue.Empty:
                for wid, proc in list(procs.items()):
                    if not proc.is_alive():
                        del procs[wid]
                        key = current.pop(wid, None)
                        if key is not None and key in in_flight:
                            in_flight.discard(key)
                            yield {"key": key, "status": "failed", "files": {}, "summary": {}, "seconds": 0.0,
                                   "worker": f"process-{wid}",
                                   "error": f"WorkerDied: the worker process ended (exit code {proc.exitcode}) "
                                            f"while explaining this item"}
                        restarts += 1
                        if restarts > 2 * workers + 2:
                            raise WorkerStartError(f"worker processes keep dying (the last exit code was "
                                                   f"{proc.exitcode}); is there enough memory for {workers} models?")
                        start(next_wid)
                        next_wid += 1
                continue
            if kind == "fatal":
                raise WorkerStartError(f"a worker process could not start: {value}")
            if kind == "start":
                current[wid] = value
            elif kind == "done":
                current.pop(wid, None)
                in_flight.discard(value["key"])
                yield value
    finally:
        for _ in procs:
            try:
                tasks.put_nowait(None)
            except Exception:
                pass
        for proc in procs.values():
            if in_flight:  # interrupted or failed: do not wait for unfinished work
                proc.terminate()
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for q in (tasks, results):
            q.close()
            q.cancel_join_thread()


# -- Ray ------------------------------------------------------------------------------------------
class _RayWorker:
    """A Ray actor: the model and the task's assets loaded once; explains payloads."""

    def __init__(self, spec: ModelSpec, task, threads: int):
        os.environ.update(thread_environment(threads))
        self.classifier = spec.load(threads=threads)
        self.task = task
        self.state = task.setup()
        self.name = f"ray-{os.getpid()}"

    def ready(self) -> bool:
        return True

    def run(self, payload: dict) -> dict:
        return run_payload(self.classifier, self.task, payload, self.state, worker=self.name)


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError("backend='ray' needs Ray: pip install 'paddlex_interpret[ray]'") from exc
    return ray


def ray_workers() -> int:
    """Workers a Ray job uses by default: the CPUs of the running cluster (this machine's if none runs)."""
    ray = _ray()
    if ray.is_initialized():
        return max(1, int(ray.cluster_resources().get("CPU", 1)))
    return default_workers()


def ray_backend(spec: ModelSpec, task, payloads: Iterator[dict], workers: int, threads: int,
                max_in_flight: Optional[int] = None, **_) -> Iterator[dict]:
    """Run the payloads on ``workers`` Ray actors (one CPU each, ``threads`` threads). Uses the Ray
    cluster this process is connected to (``ray.init(address=...)``); otherwise starts a local one
    and shuts it down at the end. Results come back to this process, which writes every file."""
    ray = _ray()
    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        started = True
    actors, pending = [], {}
    try:
        env = thread_environment(threads)
        actor_class = ray.remote(num_cpus=1)(_RayWorker)
        def new_actor():
            return actor_class.options(runtime_env={"env_vars": env}).remote(spec, task, threads)

        actors = [new_actor() for _ in range(workers)]
        restarts = 0
        try:
            ray.get([a.ready.remote() for a in actors])
        except ray.exceptions.RayActorError as exc:
            raise WorkerStartError(f"a Ray worker could not start: {_first_error(str(exc))}") from None
        per_actor = max(1, (max_in_flight or 2 * workers) // workers)
        load = {i: 0 for i in range(len(actors))}
        source, exhausted = iter(payloads), False
        while True:
            while not exhausted:
                idle = min(load, key=load.get)
                if load[idle] >= per_actor:
                    break
                payload = next(source, None)
                if payload is None:
                    exhausted = True
                    break
                pending[actors[idle].run.remote(payload)] = (idle, payload["key"])
                load[idle] += 1
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                idle, key = pending.pop(ref)
                load[idle] -= 1
                try:
                    out = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                    out = {"key": key, "status": "failed", "files": {}, "summary": {}, "seconds": 0.0,
                           "worker": "ray", "error": f"{type(exc).__name__}: {_first_error(str(exc))}"}
                    if isinstance(exc, ray.exceptions.RayActorError):  # the actor died: replace it
                        restarts += 1
                        if restarts > 2 * workers + 2:
                            raise WorkerStartError(f"Ray workers keep dying: {_first_error(str(exc))}") from None
                        try:
                            ray.kill(actors[idle])
                        except Exception:
                            pass
                        actors[idle] = new_actor()
                yield out
    finally:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:
                pass
        if started:
            ray.shutdown()
