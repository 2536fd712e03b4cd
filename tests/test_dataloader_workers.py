"""DataLoader with worker processes (num_workers > 0): batches, order, seeding,
iterable datasets, errors, worker death, timeouts, persistence and shutdown."""
import os
import random
import time
import warnings
import multiprocessing as mp

import numpy as np
import pytest

import tinygrad_kr as tg
from tinygrad_kr.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset,
                                    SequentialSampler, TensorDataset, default_collate,
                                    get_worker_info)
from tinygrad_kr.utils import _worker


def batches_equal(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        p, q = (p if isinstance(p, (list, tuple)) else [p]), (q if isinstance(q, (list, tuple))
                                                          else [q])
        assert len(p) == len(q)
        for u, v in zip(p, q):
            np.testing.assert_array_equal(np.asarray(u.numpy() if isinstance(u, tg.Tensor) else u),
                                          np.asarray(v.numpy() if isinstance(v, tg.Tensor) else v))


class Squares(Dataset):
    """Per-sample __getitem__ (no batch shortcut): the path augmentation takes."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return tg.tensor(np.array([i, i * i], np.float32)), i


class Whoami(Dataset):
    """Each sample says which process built it, with what worker info and random state."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "pid": os.getpid(), "id": -1 if info is None else info.id,
                "seed": -1 if info is None else info.seed,
                "num_workers": -1 if info is None else info.num_workers,
                "same_dataset_type": info is not None and type(info.dataset) is Whoami,
                "init": INIT_MARK.get("worker"),
                "tg": float(tg.rand(1).item()), "np": float(np.random.rand()),
                "py": random.random()}


INIT_MARK = {}


def mark_init(worker_id):
    INIT_MARK["worker"] = worker_id


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("num_workers,prefetch", [(1, 1), (2, 2), (3, 1)])
def test_workers_give_the_single_process_batches(num_workers, prefetch):
    x, y = tg.randn(53, 4), tg.arange(53)
    for make in (lambda **kw: DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True,
                                         generator=tg.Generator().manual_seed(5), **kw),
                 lambda **kw: DataLoader(Squares(23), batch_size=4, drop_last=True, **kw),
                 lambda **kw: DataLoader(Squares(9), batch_size=None, **kw),
                 lambda **kw: DataLoader(Squares(9), batch_sampler=[[3, 1], [8], [0, 2, 4]],
                                         **kw),
                 lambda **kw: DataLoader(Squares(10), batch_size=3,
                                         collate_fn=lambda s: [v for _, v in s], **kw)):
        expected = list(make())
        got = list(make(num_workers=num_workers, prefetch_factor=prefetch))
        if isinstance(expected[0], list) and isinstance(expected[0][0], int):
            assert got == expected
        else:
            batches_equal(got, expected)


def test_shuffle_order_with_workers_equals_without_and_follows_manual_seed():
    ds = TensorDataset(tg.arange(40))

    def order(num_workers):
        tg.manual_seed(11)
        loader = DataLoader(ds, batch_size=5, shuffle=True, num_workers=num_workers)
        return [b[0].tolist() for epoch in range(2) for b in loader]

    assert order(2) == order(0)
    assert sorted(sum(order(2)[:8], [])) == list(range(40))


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    tg.manual_seed(3)
    loader = DataLoader(Whoami(), batch_size=2, num_workers=2, worker_init_fn=mark_init)
    samples = [s for batch in loader for s in _unbatch(batch)]
    assert [s["i"] for s in samples] == list(range(12))
    assert {s["id"] for s in samples} == {0, 1}
    # batches go to workers round-robin: batch k to worker k % 2
    assert all(s["id"] == (s["i"] // 2) % 2 for s in samples)
    assert all(s["num_workers"] == 2 and s["same_dataset_type"] for s in samples)
    assert all(s["init"] == s["id"] for s in samples)
    seeds = {s["id"]: s["seed"] for s in samples}
    assert seeds[1] == seeds[0] + 1
    assert len({s["pid"] for s in samples}) == 2 and os.getpid() not in {s["pid"] for s in samples}
    # each worker's generators are seeded from its seed: workers draw different numbers
    first = {s["id"]: (s["tg"], s["np"], s["py"]) for s in samples if s["i"] in (0, 2)}
    assert all(a != b for a, b in zip(first[0], first[1]))

    # reproducible under manual_seed; a new epoch gets new seeds
    tg.manual_seed(3)
    again = [s for batch in loader for s in _unbatch(batch)]
    assert [(s["tg"], s["np"], s["py"], s["seed"]) for s in again] == \
        [(s["tg"], s["np"], s["py"], s["seed"]) for s in samples]
    next_epoch = [s for batch in loader for s in _unbatch(batch)]
    assert next_epoch[0]["seed"] != samples[0]["seed"]
    assert next_epoch[0]["tg"] != samples[0]["tg"]


def _unbatch(batch):
    n = len(batch["i"])
    return [{k: (v[j].item() if isinstance(v, tg.Tensor) else v[j]) for k, v in batch.items()}
            for j in range(n)]


def test_worker_info_is_read_only():
    info = _worker.WorkerInfo(id=0, num_workers=1, seed=5, dataset=None)
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo"):
        info.id = 3
    assert repr(info) == "WorkerInfo(id=0, num_workers=1, seed=5, dataset=None)"


class Stream(IterableDataset):
    def __init__(self, n, shard=True, info=get_worker_info):
        self.n, self.shard, self.info = n, shard, info

    def __iter__(self):
        info = self.info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def stream_batches(loader_cls, dataset, **kw):
    return [b.tolist() if hasattr(b, "tolist") else b for b in loader_cls(dataset, **kw)]


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_iterable_dataset_workers():
    assert stream_batches(DataLoader, Stream(20), batch_size=3, num_workers=2) == \
        [[0, 2, 4], [1, 3, 5], [6, 8, 10], [7, 9, 11], [12, 14, 16], [13, 15, 17], [18], [19]]
    # without sharding every worker yields the whole stream (PyTorch's rule)
    unsharded = stream_batches(DataLoader, Stream(5, shard=False), batch_size=2, num_workers=2)
    assert unsharded == [[0, 1], [0, 1], [2, 3], [2, 3], [4], [4]]
    assert stream_batches(DataLoader, Stream(7), batch_size=2, drop_last=True,
                          num_workers=2) == [[0, 2], [1, 3], [4, 6]]
    assert stream_batches(DataLoader, Stream(5), batch_size=None, num_workers=2) == \
        [0, 1, 2, 3, 4]
    # one worker exhausted long before the other
    assert stream_batches(DataLoader, Stream(3), batch_size=1, num_workers=3) == [[0], [1], [2]]


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_iterable_dataset_workers_match_pytorch():
    torch = pytest.importorskip("torch")
    for kw in (dict(batch_size=3), dict(batch_size=2, drop_last=True), dict(batch_size=None),
               dict(batch_size=4, num_workers=3)):
        kw = {"num_workers": 2, **kw}
        for n, shard in ((20, True), (7, True), (5, False)):
            ours = stream_batches(DataLoader, Stream(n, shard), **kw)
            theirs = stream_batches(torch.utils.data.DataLoader,
                                    TorchStream(n, shard, torch.utils.data.get_worker_info), **kw)
            assert ours == theirs, (kw, n, shard)


def _torch_stream_class():
    try:
        import torch
    except ImportError:
        return Stream

    class _TorchStream(torch.utils.data.IterableDataset, Stream):
        def __init__(self, n, shard, info):
            Stream.__init__(self, n, shard, info)

        __iter__ = Stream.__iter__

    return _TorchStream


TorchStream = _torch_stream_class()


class Failing(Dataset):
    def __init__(self, exc, at=5):
        self.exc, self.at = exc, at

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == self.at:
            raise self.exc
        return i


class NeedsTwoArgs(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


def test_worker_exceptions_reach_the_main_process():
    loader = DataLoader(Failing(ValueError("bad sample 5")), batch_size=2, num_workers=2)
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process 0"
                                         r".*Original Traceback.*bad sample 5"):
        list(loader)
    # batches before the failure were handed out in order
    it = iter(loader)
    assert [next(it).tolist(), next(it).tolist()] == [[0, 1], [2, 3]]
    with pytest.raises(ValueError):
        next(it)
    # a KeyError's message keeps its newlines; an exception that cannot be
    # rebuilt from a message arrives as RuntimeError
    with pytest.raises(KeyError) as info:
        list(DataLoader(Failing(KeyError("missing")), batch_size=2, num_workers=1))
    assert "\n" in str(info.value) and "missing" in str(info.value)
    with pytest.raises(RuntimeError, match="Caught NeedsTwoArgs"):
        list(DataLoader(Failing(NeedsTwoArgs(1, 2)), batch_size=2, num_workers=1))

    class LocalError(Exception):  # a class that cannot be pickled by reference
        pass

    with pytest.raises(RuntimeError, match="Caught LocalError in DataLoader worker process"):
        list(DataLoader(Failing(LocalError("x")), batch_size=2, num_workers=1))


def failing_init(worker_id):
    raise OSError(f"cannot open the shard of worker {worker_id}")


def test_worker_init_fn_error_is_raised_with_the_first_batch():
    loader = DataLoader(Squares(6), batch_size=2, num_workers=1, worker_init_fn=failing_init)
    with pytest.raises(OSError, match="cannot open the shard of worker 0"):
        list(loader)


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = DataLoader(Squares(4), batch_size=2, num_workers=1,
                        collate_fn=lambda samples: (lambda: samples))
    with pytest.raises(Exception, match="while sending its batch to the main process"):
        list(loader)


class Dies(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3:
            os._exit(7)
        return i


def test_worker_death_is_reported():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly \(exit code\(s\) 7\)"):
        list(DataLoader(Dies(), batch_size=2, num_workers=2))


class Sleepy(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(1 if i == 2 else 0)
        return i


def test_timeout():
    loader = DataLoader(Sleepy(), batch_size=2, num_workers=1, timeout=0.3)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(it)
    assert time.monotonic() - start < 2.5
    assert not any(w.is_alive() for w in it._workers)


class Pids(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return os.getpid()


def test_persistent_workers_live_across_epochs():
    loader = DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=True)
    first = {p for b in loader for p in b.tolist()}
    second = {p for b in loader for p in b.tolist()}
    assert first == second and len(first) == 2
    # an epoch cut short, then a whole one: stale batches of the first are dropped
    it = iter(loader)
    next(it)
    assert len(list(loader)) == 4
    workers = loader._iterator._workers
    assert all(w.is_alive() for w in workers)
    del it
    loader._iterator._shutdown()
    assert not any(w.is_alive() for w in workers)

    fresh = DataLoader(Pids(), batch_size=2, num_workers=2)
    assert {p for b in fresh for p in b.tolist()} != {p for b in fresh for p in b.tolist()}

    stream = DataLoader(Stream(6), batch_size=2, num_workers=2, persistent_workers=True)
    assert list(map(lambda b: b.tolist(), stream)) == list(map(lambda b: b.tolist(), stream)) == \
        [[0, 2], [1, 3], [4], [5]]


def test_breaking_out_shuts_the_workers_down():
    it = iter(DataLoader(Squares(100), batch_size=2, num_workers=2))
    next(it)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    del it
    assert not any(w.is_alive() for w in workers)
    # a finished epoch shuts down on its own
    it = iter(DataLoader(Squares(4), batch_size=2, num_workers=2))
    list(it)
    assert not any(w.is_alive() for w in it._workers)


def test_dropping_a_persistent_loader_stops_its_workers_without_the_gc():
    import gc
    loader = DataLoader(Squares(6), batch_size=2, num_workers=2, persistent_workers=True)
    assert len(list(loader)) == 3 and len(iter(loader)) == 3
    workers = list(loader._iterator._workers)
    gc.disable()    # no loader <-> iterator cycle: plain reference counting frees both
    try:
        del loader
        assert not any(w.is_alive() for w in workers)
    finally:
        gc.enable()


def test_out_of_order_delivery():
    loader = DataLoader(Sleepy(), batch_size=1, num_workers=2, in_order=False)
    got = [b.item() for b in loader]
    assert sorted(got) == [0, 1, 2, 3] and got.index(2) > got.index(3)  # 2 sleeps: comes last
    assert [b.item() for b in DataLoader(Sleepy(), batch_size=1, num_workers=2)] == [0, 1, 2, 3]


def test_len_of_the_worker_iterator():
    it = iter(DataLoader(Squares(10), batch_size=3, num_workers=1))
    assert len(it) == 4
    assert sum(1 for _ in it) == 4


def test_spawn_context_and_context_checks():
    ds = TensorDataset(tg.arange(6.0))
    got = [b[0].tolist() for b in DataLoader(ds, batch_size=4, num_workers=1,
                                             multiprocessing_context="spawn")]
    assert got == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0]]
    ctx = mp.get_context("fork")
    assert len(list(DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context=ctx))) == 2
    with pytest.raises(ValueError, match="should specify a valid start method"):
        DataLoader(ds, num_workers=1, multiprocessing_context="teleport")
    with pytest.raises(TypeError, match="should be a valid context object"):
        DataLoader(ds, num_workers=1, multiprocessing_context=3)
    with pytest.raises(ValueError, match="can only be used with multi-process loading"):
        DataLoader(ds, multiprocessing_context="spawn")


def test_more_workers_than_cores_warns():
    cores = len(os.sched_getaffinity(0))
    with pytest.warns(UserWarning, match=f"will create {cores + 1} worker processes"):
        DataLoader(Squares(4), num_workers=cores + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DataLoader(Squares(4), num_workers=1)


def test_training_on_batches_from_workers_equals_single_process():
    x, y = tg.randn(64, 5), tg.randint(0, 3, (64,))

    def train(num_workers):
        tg.manual_seed(0)
        model = tg.nn.Linear(5, 3)
        opt = tg.optim.SGD(model.parameters(), lr=0.1)
        loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True,
                            num_workers=num_workers)
        for _ in range(2):
            for xb, yb in loader:
                opt.zero_grad()
                tg.nn.functional.cross_entropy(model(xb), yb).backward()
                opt.step()
        return model.weight.detach().numpy()

    np.testing.assert_array_equal(train(2), train(0))


def test_default_collate_is_used_in_workers():
    batch = next(iter(DataLoader(Squares(4), batch_size=4, num_workers=1)))
    expected = default_collate([Squares(4)[i] for i in range(4)])
    batches_equal([batch], [expected])
    assert next(iter(DataLoader(Squares(4), batch_sampler=BatchSampler(
        SequentialSampler(range(4)), 3, False), num_workers=1)))[1].tolist() == [0, 1, 2]
