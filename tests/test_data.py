"""utils.data: datasets, samplers, collation and the DataLoader (PyTorch as the oracle)."""
import collections
import warnings

import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr.random import Generator
from tinygrad_kr.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                    IterableDataset, RandomSampler, SequentialSampler, Subset,
                                    SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                    default_collate, random_split)


def make_xy(n=10):
    x = tk.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = tk.tensor(np.arange(n) % 4)
    return x, y


def as_np(batch):
    return [b.numpy() if hasattr(b, "numpy") else b for b in batch]


# -- datasets -----------------------------------------------------------------

def test_tensor_dataset_items_and_errors():
    x, y = make_xy(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi.numpy(), [6, 7, 8])
    assert yi.item() == 2
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, tk.tensor(np.arange(4)))


def test_concat_dataset_matches_torch():
    torch = pytest.importorskip("torch")
    a, b = list(range(3)), list(range(10, 15))

    class L(Dataset):
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    ours = ConcatDataset([L(a), L(b)])
    theirs = torch.utils.data.ConcatDataset([a, b])
    assert len(ours) == len(theirs) == 8
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert len(L(a) + L(b)) == 8
    with pytest.raises(IndexError):
        ours[8]


@pytest.mark.parametrize("n, lengths", [(10, [0.3, 0.3, 0.4]), (7, [0.5, 0.5]), (11, [0.1] * 10),
                                        (10, [3, 7]), (5, [0.2, 0.8])])
def test_random_split_sizes_match_torch(n, lengths):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-length split warnings, in both libraries
        ours = random_split(list(range(n)), lengths, generator=Generator().manual_seed(0))
        theirs = torch.utils.data.random_split(list(range(n)), lengths,
                                               generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    together = sorted(i for s in ours for i in (s[k] for k in range(len(s))))
    assert together == list(range(n))


def test_random_split_errors_and_reproducibility():
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(list(range(10)), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0"):
        random_split(list(range(10)), [1.5, -0.5])
    a = random_split(list(range(20)), [0.5, 0.5], generator=Generator().manual_seed(3))
    b = random_split(list(range(20)), [0.5, 0.5], generator=Generator().manual_seed(3))
    assert a[0].indices == b[0].indices and a[1].indices == b[1].indices


# -- samplers -----------------------------------------------------------------

def test_samplers_basic():
    data = list(range(7))
    assert list(SequentialSampler(data)) == data
    perm = list(RandomSampler(data, generator=Generator().manual_seed(1)))
    assert sorted(perm) == data
    more = list(RandomSampler(data, num_samples=17, generator=Generator().manual_seed(1)))
    assert len(more) == 17 and sorted(more[:7]) == data and sorted(more[7:14]) == data
    repl = list(RandomSampler(data, replacement=True, num_samples=50))
    assert len(repl) == 50 and set(repl) <= set(data)
    sub = list(SubsetRandomSampler([2, 4, 6], generator=Generator().manual_seed(0)))
    assert sorted(sub) == [2, 4, 6]
    weighted = list(WeightedRandomSampler([0.0, 1.0, 0.0, 2.0], 100))
    assert set(weighted) <= {1, 3}
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(data, replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler([], replacement=False)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(data, 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(data, 2, 1)


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_matches_torch(drop_last):
    torch = pytest.importorskip("torch")
    ours = BatchSampler(SequentialSampler(range(10)), 3, drop_last)
    theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(10)), 3,
                                           drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


# -- collation -----------------------------------------------------------------

def test_default_collate_matches_torch_structure():
    torch = pytest.importorskip("torch")
    Point = collections.namedtuple("Point", "x y")
    samples = [{"img": np.full((2, 2), i, np.float32), "label": i, "w": 0.5 * i, "flag": i % 2 == 0,
                "name": f"s{i}", "pair": (i, [i, -i]), "pt": Point(i, 2 * i)} for i in range(3)]
    ours = default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    assert set(ours) == set(theirs)
    for key in ("img", "label", "w", "flag"):
        assert ours[key].numpy().dtype == theirs[key].numpy().dtype, key
        np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy())
    assert ours["name"] == theirs["name"] == ["s0", "s1", "s2"]
    assert isinstance(ours["pair"], list) and isinstance(theirs["pair"], list)
    np.testing.assert_array_equal(ours["pair"][1][1].numpy(), theirs["pair"][1][1].numpy())
    assert isinstance(ours["pt"], Point)
    np.testing.assert_array_equal(ours["pt"].y.numpy(), [0, 2, 4])


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([tk.tensor([1.0, 2.0]), tk.tensor([1.0])])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


# -- the DataLoader vs PyTorch ----------------------------------------------------

@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (10, False),
                                                   (4, True), (32, True)])
def test_dataloader_batches_match_torch(batch_size, drop_last):
    torch = pytest.importorskip("torch")
    x, y = make_xy(10)
    ours = DataLoader(TensorDataset(x, y), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy())),
        batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want)
    for (xb, yb), (tx, ty) in zip(got, want):
        np.testing.assert_array_equal(xb.numpy(), tx.numpy())
        np.testing.assert_array_equal(yb.numpy(), ty.numpy())
        assert xb.dtype == np.float32 and yb.dtype == np.int64


def test_dataloader_of_plain_samples_matches_torch():
    torch = pytest.importorskip("torch")
    data = [(np.array([i, i + 1], np.float32), i) for i in range(7)]
    ours = list(DataLoader(data, batch_size=3))
    theirs = list(torch.utils.data.DataLoader(data, batch_size=3))
    for (a, b), (ta, tb) in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), ta.numpy())
        np.testing.assert_array_equal(b.numpy(), tb.numpy())


def test_dataloader_option_errors():
    x, y = make_xy()
    ds = TensorDataset(x, y)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 2, False), batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    loader = DataLoader(ds, batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 4


def test_dataloader_batch_sampler_and_unbatched_modes():
    x, y = make_xy(6)
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, batch_sampler=[[0, 5], [1, 2, 3]])
    assert [b[1].numpy().tolist() for b in loader] == [[0, 1], [1, 2, 3]]
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 6 and unbatched[2][0].shape == (3,)
    assert len(DataLoader(ds, batch_size=None)) == 6
    assert len(DataLoader(ds, batch_size=4, num_workers=2)) == 2


def test_dataloader_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

        def __len__(self):
            return 7

    got = [b.numpy().tolist() for b in DataLoader(Stream(), batch_size=3)]
    assert got == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(DataLoader(Stream(), batch_size=3, drop_last=True)) == 2
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(), shuffle=True)


def test_single_process_iterator_goes_on_after_an_error():
    class OneBad(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            if i == 2:
                raise ValueError("bad sample 2")
            return i

    it = iter(DataLoader(OneBad(), batch_size=2))
    assert len(it) == 3 and next(it).tolist() == [0, 1]
    with pytest.raises(ValueError, match="bad sample 2"):
        next(it)
    assert next(it).tolist() == [4, 5]     # as PyTorch's: the epoch is not cut short
    with pytest.raises(StopIteration):
        next(it)


# -- reproducible shuffling ----------------------------------------------------------

def epoch_orders(loader, epochs=2):
    return [np.concatenate([yb.numpy() for _, yb in loader]).tolist() for _ in range(epochs)]


def test_shuffle_reproducible_with_generator():
    x = tk.tensor(np.zeros((50, 1), np.float32))
    y = tk.tensor(np.arange(50))
    ds = TensorDataset(x, y)
    def loader(seed):
        return DataLoader(ds, batch_size=8, shuffle=True, generator=Generator().manual_seed(seed))

    a, b, c = epoch_orders(loader(7)), epoch_orders(loader(7)), epoch_orders(loader(8))
    assert a == b
    assert a != c
    assert a[0] != a[1], "each epoch draws a new order"
    assert sorted(a[0]) == list(range(50))


def test_shuffle_reproducible_with_manual_seed():
    ds = TensorDataset(tk.tensor(np.zeros((30, 1), np.float32)), tk.tensor(np.arange(30)))
    tk.manual_seed(123)
    a = epoch_orders(DataLoader(ds, batch_size=4, shuffle=True), epochs=1)
    tk.manual_seed(123)
    b = epoch_orders(DataLoader(ds, batch_size=4, shuffle=True), epochs=1)
    assert a == b


# -- the one-fancy-index path --------------------------------------------------------

class CountingArrays(Dataset):
    """An array-backed dataset that counts how it is read."""

    def __init__(self, n):
        self.x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
        self.y = np.arange(n)
        self.item_calls = 0
        self.batch_calls = 0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.item_calls += 1
        return self.x[i], int(self.y[i])

    def _get_batch(self, indices):
        self.batch_calls += 1
        idx = np.asarray(indices)
        return [tk.tensor(self.x[idx]), tk.tensor(self.y[idx])]


def test_fast_path_uses_one_gather_per_batch():
    ds = CountingArrays(100)
    loader = DataLoader(ds, batch_size=16, shuffle=True)
    seen = np.concatenate([yb.numpy() for _, yb in loader])
    assert sorted(seen.tolist()) == list(range(100))
    assert ds.item_calls == 0
    assert ds.batch_calls == len(loader) == 7


def test_fast_path_equals_per_sample_path():
    ds = CountingArrays(20)
    fast = list(DataLoader(ds, batch_size=6))
    slow = list(DataLoader(ds, batch_size=6, collate_fn=lambda b: default_collate(b)))
    assert ds.item_calls == 20  # a custom collate_fn gets real samples
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())
        assert a.dtype == c.dtype and b.dtype == d.dtype


def test_tensor_dataset_and_subset_never_call_getitem(monkeypatch):
    x, y = make_xy(40)
    ds = TensorDataset(x, y)

    def boom(self, index):
        raise AssertionError("per-sample __getitem__ called on the fast path")

    monkeypatch.setattr(TensorDataset, "__getitem__", boom)
    xb, yb = next(iter(DataLoader(ds, batch_size=40)))
    np.testing.assert_array_equal(xb.numpy(), x.numpy())
    sub = Subset(ds, [5, 3, 30, 31])
    xb, yb = next(iter(DataLoader(sub, batch_size=4)))
    np.testing.assert_array_equal(yb.numpy(), y.numpy()[[5, 3, 30, 31]])
    train, _ = random_split(ds, [0.75, 0.25], generator=Generator().manual_seed(0))
    got = np.concatenate([b[1].numpy() for b in DataLoader(train, batch_size=7)])
    np.testing.assert_array_equal(got, y.numpy()[train.indices])


def test_bare_tensor_and_array_datasets():
    torch = pytest.importorskip("torch")
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    for data in (tk.tensor(x), x, x[:, 0]):
        got = [b.numpy() for b in DataLoader(data, batch_size=4)]
        want = [b.numpy() for b in torch.utils.data.DataLoader(
            torch.from_numpy(np.asarray(data)) if isinstance(data, tk.Tensor) else data,
            batch_size=4)]
        for g, w in zip(got, want):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)


def test_subclass_overriding_getitem_is_honoured():
    class Doubled(TensorDataset):
        calls = 0

        def __getitem__(self, index):
            Doubled.calls += 1
            x, y = super().__getitem__(index)
            return x * 2, y

    x, y = make_xy(8)
    xb, _ = next(iter(DataLoader(Doubled(x, y), batch_size=8)))
    np.testing.assert_array_equal(xb.numpy(), 2 * x.numpy())
    assert Doubled.calls == 8


def test_fast_path_keeps_autograd_for_tensors_that_require_grad():
    w = tk.tensor(np.ones((6, 2), np.float32))
    w.requires_grad_(True)
    (xb,) = next(iter(DataLoader(TensorDataset(w), batch_size=3)))
    xb.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:3], 1.0)
    np.testing.assert_array_equal(w.grad.numpy()[3:], 0.0)


def test_fast_path_speed_smoke():
    """60000 rows in batches of 64 should take well under a second (no per-sample Python)."""
    import time
    x = tk.tensor(np.zeros((60000, 8), np.float32))
    y = tk.tensor(np.zeros(60000, np.int64))
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    t = time.perf_counter()
    n = sum(1 for _ in loader)
    assert n == 938
    assert time.perf_counter() - t < 3.0
