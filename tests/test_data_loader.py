"""collate, seed_worker, EpochSampler and make_loader over MMFiDataset (plain, 2 workers, sharded over ranks)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csipose.data import MMFiDataset, collate, make_loader, prepare_mmfi, seed_worker
from csipose.data.collate import EpochSampler
from csipose.errors import ArgumentError, ShapeError

from tests.mmfi_tree import write_tree

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> MMFiDataset:
    root = tmp_path_factory.mktemp("mmfi")
    write_tree(root / "root", ("S01", "S02"), ("A02", "A03"), 5)
    prepare_mmfi(root / "root", root / "cache", workers=0, progress=False)
    return MMFiDataset(root / "root", scheme="manual", train={"S01": ["A02", "A03"], "S02": ["A03"]}, val={},
                       window=2, cache=root / "cache")


def test_import_does_not_pull_torch() -> None:
    code = "import csipose.data, sys; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_collate_stacks_and_checks(dataset: MMFiDataset) -> None:
    batch = collate([dataset[0], dataset[3]])
    assert batch["csi"].shape == (2, 2, 6, 114, 10) and batch["csi"].dtype == torch.float32
    assert batch["keypoints"].shape == (2, 17, 3) and batch["visibility"].shape == (2, 17)
    assert batch["frame"].tolist() == [int(dataset[0]["frame"]), int(dataset[3]["frame"])]
    assert batch["subject"].dtype == torch.int64
    ref = torch.utils.data.default_collate([dataset[0], dataset[3]])
    assert ref.keys() == batch.keys()
    for key in ref:
        assert ref[key].dtype == batch[key].dtype and torch.equal(ref[key], batch[key]), key
    with pytest.raises(ShapeError, match="empty batch"):
        collate([])
    bad = dict(dataset[1], csi=dataset[1]["csi"][:, :3])
    with pytest.raises(ShapeError, match=r"samples\[1\]\['csi'\]: \(2, 3, 114, 10\) differs from samples\[0\]'s \(2, 6, 114, 10\)"):
        collate([dataset[0], bad])
    with pytest.raises(ShapeError, match=r"samples\[1\]\['csi'\]: float64 differs from samples\[0\]'s float32"):
        collate([dataset[0], dict(dataset[1], csi=dataset[1]["csi"].astype(np.float64))])
    with pytest.raises(ShapeError, match=r"\['csi'\]: expected float32\[W, C, S, P\], got torch.float64"):
        collate([dict(dataset[0], csi=dataset[0]["csi"].astype(np.float64))])
    with pytest.raises(ShapeError, match=r"\['keypoints'\]: expected float32\[J, 3\]"):
        collate([dict(dataset[0], keypoints=dataset[0]["keypoints"][:, :2])])
    with pytest.raises(ShapeError, match=r"\['frame'\]: expected an integer scalar"):
        collate([dict(dataset[0], frame=np.array([1, 2]))])
    with pytest.raises(ShapeError, match=r"samples\[1\]: keys"):
        collate([dataset[0], dict(dataset[1], extra=np.int64(1))])
    with pytest.raises(ShapeError, match="missing key 'frame'"):
        collate([{k: v for k, v in dataset[0].items() if k != "frame"}])


def _frames(loader: object) -> list[tuple[int, int, int]]:
    out = []
    for batch in loader:  # type: ignore[attr-defined]
        out += list(zip(batch["subject"].tolist(), batch["action"].tolist(), batch["frame"].tolist()))
    return out


def test_loader_two_workers_equals_in_process(dataset: MMFiDataset) -> None:
    every = sorted((int(s["subject"]), int(s["action"]), int(s["frame"])) for s in (dataset[i] for i in range(len(dataset))))
    serial = _frames(make_loader(dataset, batch_size=3, shuffle=True, workers=0, seed=4))
    parallel = _frames(make_loader(dataset, batch_size=3, shuffle=True, workers=2, seed=4))
    assert serial == parallel and sorted(serial) == every
    other_epoch = _frames(make_loader(dataset, batch_size=3, shuffle=True, workers=0, seed=4, epoch=1))
    assert sorted(other_epoch) == every and other_epoch != serial
    ordered = _frames(make_loader(dataset, batch_size=5, shuffle=False))
    assert ordered == [(int(dataset[i]["subject"]), int(dataset[i]["action"]), int(dataset[i]["frame"])) for i in range(len(dataset))]


def test_distributed_sampler_shards(dataset: MMFiDataset) -> None:
    shards = [
        _frames(make_loader(dataset, batch_size=2, shuffle=True, seed=1, distributed=True, num_replicas=2, rank=r))
        for r in (0, 1)
    ]
    n = len(dataset)
    assert len(shards[0]) == len(shards[1]) == (n + 1) // 2
    every = {(int(s["subject"]), int(s["action"]), int(s["frame"])) for s in (dataset[i] for i in range(n))}
    assert set(shards[0]) | set(shards[1]) == every
    if n % 2 == 0:
        assert not set(shards[0]) & set(shards[1])
    loader = make_loader(dataset, batch_size=2, shuffle=True, seed=1, distributed=True, num_replicas=2, rank=0, workers=2)
    assert _frames(loader) == shards[0]
    assert isinstance(loader.sampler, EpochSampler)


@pytest.mark.parametrize(("size", "world"), [(10, 3), (11, 2), (4, 4), (3, 5), (12, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_epoch_sampler_order_is_distributed_samplers(size: int, world: int, drop_last: bool) -> None:
    """Shuffled and even, every rank's share is torch's DistributedSampler's, epoch by epoch."""
    for epoch in (0, 3):
        for rank in range(world):
            ref = torch.utils.data.DistributedSampler(
                range(size), num_replicas=world, rank=rank, shuffle=True, seed=7, drop_last=drop_last
            )
            ref.set_epoch(epoch)
            ours = EpochSampler(size, seed=7, epoch=epoch, rank=rank, world_size=world, drop_last=drop_last)
            assert list(ours) == list(ref) and len(ours) == len(ref)
            ours.set_epoch(epoch + 1)
            ref.set_epoch(epoch + 1)
            assert list(ours) == list(ref)


def test_epoch_sampler_uneven_shards_and_resume_offset() -> None:
    """even=False: every item on exactly one rank; start skips a rank's first items of the same order."""
    shards = [list(EpochSampler(7, shuffle=False, rank=r, world_size=3, even=False)) for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4], [2, 5]]
    full = list(EpochSampler(9, seed=2, epoch=1, rank=1, world_size=2))
    later = EpochSampler(9, seed=2, epoch=1, rank=1, world_size=2, start=3)
    assert list(later) == full[3:] and len(later) == len(full) - 3
    with pytest.raises(ArgumentError, match="rank"):
        EpochSampler(4, rank=2, world_size=2)


class _Draws:
    """A dataset whose samples are draws from numpy's and Python's global RNGs (as augmentations are)."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "csi": np.full((1, 1, 1, 1), np.random.random(), np.float32),
            "keypoints": np.full((1, 3), random.random(), np.float32),
            "visibility": np.ones(1, np.float32),
            "subject": np.int64(i), "action": np.int64(0), "environment": np.int64(0), "frame": np.int64(1),
        }


def _draws(epoch: int, seed: int = 0, rank: int | None = None) -> list[float]:
    sharding = {} if rank is None else {"distributed": True, "num_replicas": 2, "rank": rank, "even": True}
    loader = make_loader(_Draws(), batch_size=1, shuffle=False, workers=2, seed=seed, epoch=epoch, **sharding)
    return [float(b["csi"]) for b in loader] + [float(b["keypoints"][0, 0, 0]) for b in loader]


def test_seed_worker_is_reproducible_and_differs_per_epoch_and_worker() -> None:
    first = _draws(0)
    assert first == _draws(0)
    assert first != _draws(1) and first != _draws(0, seed=1)
    # batches 0 and 1 come from workers 0 and 1: their first draws differ
    assert first[0] != first[1]


def test_seed_worker_seeds_global_generators() -> None:
    torch.manual_seed(11)
    seed_worker(0)
    a = (np.random.random(), random.random())
    torch.manual_seed(11)
    seed_worker(0)
    assert (np.random.random(), random.random()) == a
    torch.manual_seed(11)
    seed_worker(1)
    assert np.random.random() != a[0]
    # the same worker of another rank, even with the same torch seed, draws another stream
    torch.manual_seed(11)
    seed_worker(0, rank=1)
    assert (np.random.random(), random.random()) != a


def test_two_ranks_workers_draw_different_streams() -> None:
    """Rank 0 and rank 1 of one run (same seed and epoch), each with 2 workers: reproducible, and distinct."""
    rank0, rank1 = _draws(0, rank=0), _draws(0, rank=1)
    assert rank0 == _draws(0, rank=0) and rank1 == _draws(0, rank=1)
    assert not set(rank0) & set(rank1)


@pytest.mark.parametrize(("kwargs", "needle"), [({"batch_size": 0}, "batch_size"), ({"workers": -1}, "workers"), ({"epoch": -2}, "epoch")])
def test_make_loader_rejects_bad_arguments(dataset: MMFiDataset, kwargs: dict, needle: str) -> None:
    args = {"batch_size": 2, "shuffle": False, **kwargs}
    with pytest.raises(ArgumentError, match=needle):
        make_loader(dataset, **args)


def test_collate_of_batched_views_in_any_order(dataset: MMFiDataset) -> None:
    samples = dataset.__getitems__([3, 1, 2])
    batch = collate(samples)
    for i, s in enumerate(samples):
        np.testing.assert_array_equal(batch["csi"][i].numpy(), s["csi"])
    # samples of one __getitems__ call share a buffer: reordered or partial lists still stack right
    swapped = [samples[1], samples[0], samples[2]]
    np.testing.assert_array_equal(collate(swapped)["csi"][0].numpy(), samples[1]["csi"])
    partial = collate(samples[:2])
    assert partial["csi"].shape[0] == 2
    np.testing.assert_array_equal(partial["csi"][1].numpy(), samples[1]["csi"])
    ref = torch.utils.data.default_collate(samples)
    for key in ref:
        assert torch.equal(ref[key], batch[key]), key


def test_loader_reads_whole_batches_equal_to_stacked_samples(dataset: MMFiDataset) -> None:
    from csipose.data.collate import StackedBatch

    idx = np.array([4, 0, 7, 3, 3])
    stacked = dataset.read_batch(idx)
    assert stacked["csi"].shape == (5, 2, 6, 114, 10) and stacked["subject"].shape == (5,)
    per_sample = collate([dataset[int(i)] for i in idx])
    as_batch = collate(StackedBatch(stacked))
    assert as_batch.keys() == per_sample.keys()
    for key, value in per_sample.items():
        assert as_batch[key].dtype == value.dtype and torch.equal(as_batch[key], value), key
    loader = make_loader(dataset, batch_size=3, shuffle=True, seed=5)
    order = list(loader.sampler)
    for b, batch in enumerate(loader):
        want = collate([dataset[i] for i in order[3 * b : 3 * b + 3]])
        for key, value in want.items():
            assert torch.equal(batch[key], value), (b, key)
    assert b == (len(order) - 1) // 3
