"""DataLoader worker processes (``num_workers > 0``), torch.utils.data's design.

Why processes: per-sample loading and augmentation are Python and hold the
GIL, so N worker processes build N batches at once while the main process
trains. The main process keeps the sampler (shuffling follows its generator
exactly as with ``num_workers=0``) and hands each batch's indices to a worker
round-robin; a worker turns indices into a batch with the same fetcher the
single-process loader uses, and sends it back. The main process hands the
batches out in sampler order (or as they arrive, with ``in_order=False``)
and keeps ``prefetch_factor`` tasks per worker in flight.

What a worker sends back is always one of: a batch, an ``ExceptionWrapper``
(re-raised in the main process with the worker's traceback), or
``StreamEnd`` (its copy of an IterableDataset is exhausted).
"""
import itertools
import os
import pickle
import queue
import random
import sys
import time
import traceback
import warnings
import weakref
import multiprocessing as mp

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]

# How often a waiting process checks that the other side is still alive.
_STATUS_CHECK_INTERVAL = 1.0

_worker_info = None


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: id, num_workers, seed, dataset."""

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


def get_worker_info():
    """The WorkerInfo of this DataLoader worker process; None in the main process.

    An IterableDataset uses it to give each worker its own share of the
    stream (each worker iterates its own copy of the dataset).
    """
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, where):
        exc_type, exc, tb = sys.exc_info()
        self.type_name = exc_type.__name__
        try:  # a class defined inside a function cannot travel: raised as RuntimeError
            pickle.dumps(exc_type)
        except Exception:  # noqa: BLE001
            exc_type = RuntimeError
        self.exc_type = exc_type
        self.where = where
        self.msg = "".join(traceback.format_exception(*sys.exc_info()))

    def reraise(self):
        msg = f"Caught {self.type_name} {self.where}.\nOriginal {self.msg}"
        if self.exc_type is KeyError:
            # KeyError would print its message as a repr, newlines escaped
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # noqa: BLE001 -- its constructor wants other arguments
            raise RuntimeError(msg) from None
        raise exception


class _KeyErrorMessage(str):
    def __repr__(self):
        return self


class StreamEnd(Exception):
    """A worker's (or the main process's) iterator over an IterableDataset is exhausted."""

    def __init__(self, worker_id=None):
        super().__init__(worker_id)
        self.worker_id = worker_id


class _ResumeIteration:
    """Sent to a persistent worker at a new epoch: restart, then acknowledge."""


def _seed_worker(seed):
    """The engine's default generator, ``random`` and NumPy's global state, as PyTorch seeds them."""
    from ..random import manual_seed
    manual_seed(seed)
    random.seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))


def _base_seed(generator):
    """A fresh base seed for this iterator's workers, reproducible under manual_seed.

    Spawned from the generator's seed sequence, which advances a spawn
    counter and leaves the stream of random numbers alone: the shuffle order
    with workers is then exactly the one with num_workers=0 (PyTorch draws a
    number instead, shifting every later one).
    """
    from ..random import get_rng
    child = get_rng(generator).bit_generator.seed_seq.spawn(1)[0]
    return int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _worker_loop(fetcher, index_queue, result_queue, done_event, base_seed, init_fn,
                 worker_id, num_workers, parent_pid):
    global _worker_info
    try:
        from ..config import _config_module
        cfg = _config_module()
        if cfg is not None:
            # one OpenMP thread per worker: N workers already use N cores,
            # and a forked child must not wait on its parent's thread pool
            cfg.set_num_threads(1)
        seed = base_seed + worker_id
        _seed_worker(seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=fetcher.dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
        except Exception:  # noqa: BLE001 -- reported with the first batch
            init_error = ExceptionWrapper(where)

        exhausted = False
        while True:
            try:
                task = index_queue.get(timeout=_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent_pid:  # the main process died: stop
                    break
                continue
            if task is None:  # shut down
                break
            if isinstance(task, _ResumeIteration):
                fetcher.restart()
                exhausted = False
                result_queue.put((task, None))
                continue
            if done_event.is_set() or exhausted:
                continue  # drain what is left without work
            idx, index = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StreamEnd:
                    data, exhausted = StreamEnd(worker_id), True
                except Exception:  # noqa: BLE001 -- re-raised in the main process
                    data = ExceptionWrapper(where)
            _send(result_queue, idx, data, where)
            del data
    except KeyboardInterrupt:
        pass  # the main process handles Ctrl-C
    if done_event.is_set():
        # the main process no longer reads: do not wait to flush the queue
        result_queue.cancel_join_thread()
        result_queue.close()


def _send(result_queue, idx, data, where):
    """Pickle here, not in the queue's feeder thread: a batch that cannot be
    pickled then becomes an error in the main process instead of a hang."""
    try:
        payload = pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001
        payload = pickle.dumps(ExceptionWrapper(
            f"{where} while sending its batch to the main process"))
    result_queue.put((idx, payload))


def _context(spec):
    if spec is None:
        return mp.get_context()
    if isinstance(spec, str):
        return mp.get_context(spec)
    return spec


def check_context(spec, num_workers):
    """PyTorch's checks of the ``multiprocessing_context`` option."""
    if spec is None:
        return
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                         f"(num_workers > 0), but got num_workers={num_workers}")
    if isinstance(spec, str):
        valid = mp.get_all_start_methods()
        if spec not in valid:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {valid!r}, but got multiprocessing_context={spec!r}")
    elif not isinstance(spec, mp.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a "
                        f"string specifying the start method, but got "
                        f"multiprocessing_context={spec}")


def warn_if_too_many_workers(num_workers):
    """PyTorch's warning: more workers than usable cores slow loading down."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    if cores and num_workers > cores:
        warnings.warn(f"This DataLoader will create {num_workers} worker processes in total. Our "
                      f"suggested max number of worker in current system is {cores}, which is "
                      f"smaller than what this DataLoader is going to create. Please be aware "
                      f"that excessive worker creation might get DataLoader running slow or even "
                      f"freeze, lower the worker number to avoid potential slowness/freeze if "
                      f"necessary.", UserWarning, stacklevel=3)


class MultiProcessIter:
    """The main process's side: feeds index batches to the workers, collects batches in order."""

    def __init__(self, loader):
        self._fetcher = loader._make_fetcher()
        self._num_workers = loader.num_workers
        self._in_flight_max = loader.prefetch_factor * loader.num_workers
        self._in_order = loader.in_order
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        # A persistent iterator is held by its loader: a strong reference back
        # would make a cycle, and the workers would outlive a dropped loader
        # until the garbage collector ran (or run its __del__ in a forked child).
        self._loader = weakref.proxy(loader) if self._persistent else loader
        self._owner_pid = os.getpid()

        ctx = _context(loader.multiprocessing_context)
        self._done_event = ctx.Event()
        self._result_queue = ctx.Queue()
        self._index_queues, self._workers = [], []
        base_seed = _base_seed(loader.generator)
        for worker_id in range(self._num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()  # tasks left unread at shutdown are dropped
            w = ctx.Process(target=_worker_loop, daemon=True,
                            args=(self._fetcher, index_queue, self._result_queue,
                                  self._done_event, base_seed, loader.worker_init_fn,
                                  worker_id, self._num_workers, os.getpid()))
            w.start()
            self._index_queues.append(index_queue)
            self._workers.append(w)
        self._shut_down = False
        self._start_epoch()

    def _start_epoch(self):
        self._tasks = iter(self._loader._tasks())
        self._send_idx = 0    # next task number to send
        self._rcvd_idx = 0    # next task number to hand out (in order)
        self._pending = {}    # task number -> (worker_id,) sent, or (worker_id, data) arrived
        self._in_flight = 0
        self._active = [True] * self._num_workers  # workers whose stream is not exhausted
        self._next_worker = itertools.cycle(range(self._num_workers))
        for _ in range(self._in_flight_max):
            self._send_task()

    def _reset(self):
        """A new epoch on persistent workers: restart each, wait for every acknowledgement."""
        for q in self._index_queues:
            q.put(_ResumeIteration())
        waiting = self._num_workers
        while waiting:
            idx, _ = self._get_data()
            if isinstance(idx, _ResumeIteration):
                waiting -= 1  # anything else is a leftover of the last epoch: dropped
        self._start_epoch()

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def _send_task(self):
        if self._in_flight >= self._in_flight_max or not any(self._active):
            return
        try:
            index = next(self._tasks)
        except StopIteration:
            return
        worker_id = next(w for w in self._next_worker if self._active[w])
        self._index_queues[worker_id].put((self._send_idx, index))
        self._pending[self._send_idx] = (worker_id,)
        self._in_flight += 1
        self._send_idx += 1

    def __next__(self):
        while True:
            # skip the tasks of workers whose stream ended before reaching them
            # (and those already handed out, out of order)
            while self._rcvd_idx < self._send_idx:
                info = self._pending.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._active[info[0]]):
                    break
                self._pending.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            if len(self._pending[self._rcvd_idx]) == 2:  # arrived earlier, out of order
                data = self._pending.pop(self._rcvd_idx)[1]
                self._rcvd_idx += 1
                return self._hand_out(data)

            idx, data = self._get_data()
            self._in_flight -= 1
            if isinstance(data, StreamEnd):
                self._active[data.worker_id] = False
                self._send_task()
                continue
            if idx != self._rcvd_idx and self._in_order:
                self._pending[idx] += (data,)
                continue
            del self._pending[idx]
            if idx == self._rcvd_idx:
                self._rcvd_idx += 1
            return self._hand_out(data)

    def _hand_out(self, data):
        self._send_task()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _get_data(self):
        """The next (task number, data) from any worker; raises if workers died or time ran out."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _STATUS_CHECK_INTERVAL if deadline is None else \
                max(0.0, min(_STATUS_CHECK_INTERVAL, deadline - time.monotonic()))
            try:
                idx, payload = self._result_queue.get(timeout=wait)
                return idx, (None if payload is None else pickle.loads(payload))
            except queue.Empty:
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    self._shutdown()
                    pids = ", ".join(str(w.pid) for w in dead)
                    codes = ", ".join(str(w.exitcode) for w in dead)
                    raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                                       f"(exit code(s) {codes})") from None
                if deadline is not None and time.monotonic() >= deadline:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} "
                                       f"seconds") from None

    def _shutdown(self):
        if self._shut_down:
            return
        self._shut_down = True
        self._done_event.set()
        for q in self._index_queues:
            q.put(None)
        for w in self._workers:
            w.join(timeout=_STATUS_CHECK_INTERVAL)
        for w in self._workers:
            if w.is_alive():
                w.terminate()
                w.join()
        for q in self._index_queues:
            q.close()
        self._result_queue.cancel_join_thread()
        self._result_queue.close()

    def __del__(self):
        # not in a forked child that inherited this object: its workers are not the child's
        if not getattr(self, "_shut_down", True) and self._owner_pid == os.getpid():
            self._shutdown()
