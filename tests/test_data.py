"""``utils.data`` (datasets, splitting, the DataLoader) and the bundled ``datasets``.

Where a behaviour is PyTorch's (what ``default_collate`` makes of numbers, tuples and
dicts; how ``random_split`` rounds fractions) the expected values here are PyTorch's.
"""
from __future__ import annotations

import socket
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as te
from tinygrad_edu import datasets
from tinygrad_edu.utils.data import DataLoader, Dataset, Subset, TensorDataset, random_split


def make_dataset(n: int = 10) -> TensorDataset:
    features = te.arange(n * 3, dtype=te.float32).reshape(n, 3)
    return TensorDataset(features, te.arange(n))


def epoch_order(loader: DataLoader) -> list[int]:
    """The sample indices in the order one epoch visits them (labels are the indices)."""
    return [index for _, labels in loader for index in labels.tolist()]


# --------------------------------------------------------------------------- datasets

def test_tensor_dataset_indexing_and_len() -> None:
    dataset = make_dataset(5)
    assert len(dataset) == 5
    features, label = dataset[2]
    np.testing.assert_array_equal(features.numpy(), [6.0, 7.0, 8.0])
    assert label.item() == 2 and label.dtype == te.int64 and tuple(label.shape) == ()
    assert len(dataset[0]) == 2 and isinstance(dataset, Dataset)
    np.testing.assert_array_equal(dataset[-1][1].numpy(), 4)
    single = TensorDataset(te.ones(3, 2))
    assert len(single[0]) == 1


def test_tensor_dataset_size_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(te.ones(4, 2), te.ones(3))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_dataset_base_class_requires_getitem_and_len() -> None:
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with pytest.raises(NotImplementedError):
        len(Dataset())


def test_subset() -> None:
    subset = Subset(make_dataset(10), [7, 2, 5])
    assert len(subset) == 3
    assert [subset[i][1].item() for i in range(3)] == [7, 2, 5]
    batch = next(iter(DataLoader(subset, batch_size=2)))
    assert batch[1].tolist() == [7, 2]


@pytest.mark.parametrize("lengths, sizes", [([3, 7], [3, 7]), ([0.3, 0.7], [3, 7]), ([0.5, 0.5], [5, 5]),
                                            ([0.33, 0.33, 0.34], [4, 3, 3]), ([1, 0, 9], [1, 0, 9])])
def test_random_split_lengths_disjoint_and_covering(lengths: list[Any], sizes: list[int]) -> None:
    parts = random_split(make_dataset(10), lengths, generator=te.Generator().manual_seed(0))
    assert [len(part) for part in parts] == sizes
    indices = [part[i][1].item() for part in parts for i in range(len(part))]
    assert sorted(indices) == list(range(10))


def test_random_split_fraction_remainders_as_pytorch() -> None:
    # floor(11 * 0.5) = 5 each; the one left over goes to the first part.
    assert [len(part) for part in random_split(make_dataset(11), [0.5, 0.5])] == [6, 5]


def test_random_split_is_seedable_and_checks_lengths() -> None:
    def split(seed: int) -> list[list[int]]:
        parts = random_split(make_dataset(10), [4, 6], generator=te.Generator().manual_seed(seed))
        return [part.indices for part in parts]

    assert split(1) == split(1) and split(1) != split(2)
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(make_dataset(10), [3, 3])


# --------------------------------------------------------------------------- DataLoader

@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, False, [4, 4]), (8, 4, True, [4, 4]),
    (3, 5, False, [3]), (3, 5, True, []), (5, 1, False, [1] * 5),
])
def test_batches_shapes_and_len(n: int, batch_size: int, drop_last: bool, sizes: list[int]) -> None:
    loader = DataLoader(make_dataset(n), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes) == len(batches)
    for batch, size in zip(batches, sizes):
        assert isinstance(batch, list)  # [features, labels], as PyTorch's loader gives
        features, labels = batch
        assert tuple(features.shape) == (size, 3) and tuple(labels.shape) == (size,)
        assert features.dtype == te.float32 and labels.dtype == te.int64
    assert epoch_order(loader) == list(range(sum(sizes)))  # no shuffle: in order


def test_default_batch_size_is_one() -> None:
    loader = DataLoader(make_dataset(3))
    assert len(loader) == 3 and [tuple(f.shape) for f, _ in loader] == [(1, 3)] * 3


def test_batch_size_none_yields_single_samples() -> None:
    loader = DataLoader(make_dataset(4), batch_size=None)
    samples = list(loader)
    assert len(loader) == len(samples) == 4
    features, label = samples[1]
    assert tuple(features.shape) == (3,) and label.item() == 1


def test_bad_batch_size_raises() -> None:
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(make_dataset(), batch_size=bad)


def test_shuffle_covers_every_index_once_and_differs_between_epochs() -> None:
    loader = DataLoader(make_dataset(50), batch_size=8, shuffle=True, generator=te.Generator().manual_seed(3))
    orders = [epoch_order(loader) for _ in range(3)]
    for order in orders:
        assert sorted(order) == list(range(50))
    assert orders[0] != orders[1] and orders[1] != orders[2]
    assert orders[0] != list(range(50))


def test_shuffle_is_reproducible_with_a_generator() -> None:
    def orders(seed: int) -> list[list[int]]:
        loader = DataLoader(make_dataset(30), batch_size=7, shuffle=True, generator=te.Generator().manual_seed(seed))
        return [epoch_order(loader) for _ in range(2)]

    assert orders(5) == orders(5)
    assert orders(5) != orders(6)


def test_shuffle_is_reproducible_with_manual_seed() -> None:
    loader = DataLoader(make_dataset(30), batch_size=7, shuffle=True)
    te.manual_seed(11)
    first = epoch_order(loader)
    te.manual_seed(11)
    assert epoch_order(loader) == first
    te.manual_seed(12)
    assert epoch_order(loader) != first


class Records(Dataset):
    """A custom dataset whose samples are dicts of tensors, numbers, bools and tuples."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"x": te.full((2,), float(index)), "count": index, "weight": index / 2, "even": index % 2 == 0,
                "pair": (te.tensor([index, -index]), index * 10)}


def test_default_collate_of_a_custom_dataset() -> None:
    batch = next(iter(DataLoader(Records(), batch_size=3)))
    assert set(batch) == {"x", "count", "weight", "even", "pair"}
    assert tuple(batch["x"].shape) == (3, 2) and batch["x"][:, 0].tolist() == [0.0, 1.0, 2.0]
    assert batch["count"].dtype == te.int64 and batch["count"].tolist() == [0, 1, 2]
    assert batch["even"].dtype == te.bool and batch["even"].tolist() == [True, False, True]
    assert isinstance(batch["pair"], list) and len(batch["pair"]) == 2  # tuples collate to lists, as PyTorch
    assert batch["pair"][0].tolist() == [[0, 0], [1, -1], [2, -2]] and batch["pair"][1].tolist() == [0, 10, 20]
    assert batch["weight"].tolist() == [0.0, 0.5, 1.0]


def test_default_collate_of_python_floats_is_float64_as_pytorch() -> None:
    # PyTorch's default_collate turns Python floats into a float64 tensor (torch.tensor(batch, dtype=torch.float64)).
    batch = next(iter(DataLoader(Records(), batch_size=3)))
    assert batch["weight"].dtype == te.float64


def test_default_collate_keeps_strings_as_a_list_as_pytorch() -> None:
    class Named(Dataset):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> tuple[te.Tensor, str]:
            return te.tensor([float(index)]), f"sample-{index}"

    features, names = next(iter(DataLoader(Named(), batch_size=3)))
    assert tuple(features.shape) == (3, 1) and names == ["sample-0", "sample-1", "sample-2"]


class Pairs(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> tuple[te.Tensor, int]:
        return te.tensor([float(index)] * 3), index


def test_default_collate_of_tuples_and_a_custom_collate_fn() -> None:
    features, labels = next(iter(DataLoader(Pairs(), batch_size=4)))
    assert tuple(features.shape) == (4, 3) and labels.tolist() == [0, 1, 2, 3]
    loader = DataLoader(Pairs(), batch_size=3, collate_fn=lambda samples: [label for _, label in samples])
    assert list(loader) == [[0, 1, 2], [3]]
    # collate_fn also replaces the fast path of datasets that batch themselves
    assert next(iter(DataLoader(make_dataset(4), batch_size=2, collate_fn=len))) == 2


def test_unknown_sample_type_raises() -> None:
    class Sets(Dataset):
        def __len__(self) -> int:
            return 2

        def __getitem__(self, index: int) -> set[int]:
            return {index}

    with pytest.raises(TypeError, match="set"):
        next(iter(DataLoader(Sets(), batch_size=2)))


def test_unexpected_keyword_raises_and_worker_options_are_accepted() -> None:
    DataLoader(make_dataset(), batch_size=2, num_workers=0, pin_memory=False)
    with pytest.raises(TypeError, match="unexpected"):
        DataLoader(make_dataset(), batch_size=2, bogus=1)


# --------------------------------------------------------------------------- bundled data sets

@pytest.mark.parametrize("make, outputs", [(datasets.xor, [0, 1, 1, 0]), (datasets.and_gate, [0, 0, 0, 1]),
                                           (datasets.or_gate, [0, 1, 1, 1]), (datasets.nand_gate, [1, 1, 1, 0])])
def test_logic_gate_truth_tables(make: Any, outputs: list[int]) -> None:
    inputs, targets = make()
    assert inputs.dtype == targets.dtype == te.float32
    assert tuple(inputs.shape) == (4, 2) and tuple(targets.shape) == (4, 1)
    assert inputs.tolist() == [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    assert targets.tolist() == [[float(value)] for value in outputs]


def test_spiral_shapes_dtypes_and_labels() -> None:
    points, labels = datasets.spiral(n_per_class=50, classes=4, noise=0.1, seed=0)
    assert tuple(points.shape) == (200, 2) and tuple(labels.shape) == (200,)
    assert points.dtype == te.float32 and labels.dtype == te.int64
    assert labels.tolist() == [k for k in range(4) for _ in range(50)]
    radius = np.linalg.norm(points.numpy().astype(np.float64), axis=1)
    assert radius.min() >= 0.0 and radius.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(radius[:50], np.linspace(0, 1, 50), atol=1e-6)  # r runs 0..1 along each arm
    default_points, default_labels = datasets.spiral()
    assert tuple(default_points.shape) == (300, 2) and sorted(set(default_labels.tolist())) == [0, 1, 2]


def test_spiral_without_noise_is_the_cs231n_formula() -> None:
    points, _ = datasets.spiral(n_per_class=5, classes=2, noise=0.0, seed=0)
    radius = np.linspace(0.0, 1.0, 5)
    for k in range(2):
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), 5)
        expected = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
        np.testing.assert_allclose(points.numpy()[5 * k:5 * (k + 1)], expected, rtol=1e-6, atol=1e-7)


def test_spiral_is_seedable() -> None:
    same = [datasets.spiral(n_per_class=20, seed=7)[0].numpy() for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.array_equal(same[0], datasets.spiral(n_per_class=20, seed=8)[0].numpy())
    te.manual_seed(4)
    first = datasets.spiral(n_per_class=20, seed=None)[0].numpy()
    te.manual_seed(4)
    np.testing.assert_array_equal(first, datasets.spiral(n_per_class=20, seed=None)[0].numpy())


def test_spiral_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        datasets.spiral(n_per_class=0)
    with pytest.raises(ValueError, match="noise"):
        datasets.spiral(noise=-1.0)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("digits() tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_digits_loads_offline(no_network: None) -> None:
    images, labels = datasets.digits()
    assert tuple(images.shape) == (1797, 64) and tuple(labels.shape) == (1797,)
    assert images.dtype == te.float32 and labels.dtype == te.int64
    pixels = images.numpy()
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    assert np.all(np.isin(pixels * 16, np.arange(17)))  # counts 0..16 of set pixels, scaled
    counts = np.bincount(labels.numpy(), minlength=10)
    assert len(counts) == 10 and counts.sum() == 1797
    assert counts.min() >= 170 and counts.max() <= 190
    square, square_labels = datasets.digits(flatten=False)
    assert tuple(square.shape) == (1797, 8, 8)
    np.testing.assert_array_equal(square.numpy().reshape(1797, 64), pixels)
    np.testing.assert_array_equal(square_labels.numpy(), labels.numpy())


def test_digits_work_with_the_data_loader() -> None:
    images, labels = datasets.digits()
    loader = DataLoader(TensorDataset(images, labels), batch_size=256, shuffle=True,
                        generator=te.Generator().manual_seed(0))
    assert len(loader) == 8
    assert sum(len(batch_labels) for _, batch_labels in loader) == 1797
