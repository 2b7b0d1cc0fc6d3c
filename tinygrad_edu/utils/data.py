"""``utils.data``: datasets and the ``DataLoader`` that cuts them into mini-batches.

- A ``Dataset`` answers ``len(dataset)`` and ``dataset[i]`` (one sample).
- ``TensorDataset(X, y)`` is the usual one: sample i is ``(X[i], y[i])``.
- ``DataLoader(dataset, batch_size, shuffle, drop_last)`` yields batches: the samples'
  tensors stacked along a new first dimension, ``[X_batch, y_batch]``. A dataset with a
  ``get_batch(indices)`` method (``TensorDataset``, ``Subset``) hands over a whole batch
  at once, which saves stacking one sample at a time. With
  ``shuffle=True`` the order is a fresh random permutation each epoch, drawn from
  ``generator`` (or from the global generator that ``manual_seed`` seeds).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Sequence

from tinygrad_edu import backend
from tinygrad_edu.creation import randperm, tensor
from tinygrad_edu.functional import stack
from tinygrad_edu.tensor import Tensor


class Dataset:
    """Base class: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Sample i is ``tuple(t[i] for t in tensors)``; all tensors share their first dimension."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [t.shape[0] if isinstance(t, Tensor) and t.ndim > 0 else None for t in tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = [tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__ for t in tensors]
            raise ValueError(f"TensorDataset: size mismatch between tensors (first dimensions must agree): {shapes}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices: Sequence[int]) -> list[Tensor]:
        """A whole batch at once, ``[X_batch, y_batch]`` (the list that PyTorch's loader gives):
        one gather per tensor instead of one index per sample and a stack."""
        rows = Tensor._wrap(backend.asarray(indices, backend.int64))
        return [t[rows] for t in self.tensors]

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def get_batch(self, indices: Sequence[int]) -> Any:
        chosen = [self.indices[i] for i in indices]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(chosen)
        return default_collate([self.dataset[i] for i in chosen])

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Any = None) -> list[Subset]:
    """Split into non-overlapping random subsets of the given lengths (or fractions summing to 1)."""
    total = len(dataset)
    if all(isinstance(length, float) for length in lengths) and math.isclose(sum(lengths), 1.0):
        counts = [int(math.floor(total * fraction)) for fraction in lengths]
        for position in range(total - sum(counts)):  # hand out the remainder round-robin, as PyTorch does
            counts[position % len(counts)] += 1
    else:
        counts = [int(length) for length in lengths]
    if sum(counts) != total:
        raise ValueError(f"random_split: sum of input lengths {sum(counts)} does not equal the length of the dataset "
                         f"{total}")
    order = randperm(total, generator=generator).tolist()
    subsets, start = [], 0
    for count in counts:
        subsets.append(Subset(dataset, order[start:start + count]))
        start += count
    return subsets


def default_collate(samples: list[Any]) -> Any:
    """A list of samples -> one batch, as PyTorch's: tensors stacked, Python numbers made
    into a tensor (floats as float64), strings kept as a list, tuples and dicts collated
    field by field."""
    first = samples[0]
    if isinstance(first, Tensor):
        return stack(samples)
    if isinstance(first, bool):
        return tensor(samples, dtype=backend.bool)
    if isinstance(first, int):
        return tensor(samples, dtype=backend.int64)
    if isinstance(first, float):  # PyTorch batches Python floats as float64
        return tensor(samples, dtype=backend.float64)
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in samples]) for key in first}
    if isinstance(first, (tuple, list)):  # a list of fields, as PyTorch returns
        return [default_collate(list(field)) for field in zip(*samples)]
    if backend.is_array(first):
        return Tensor(backend.array_namespace(first).stack(samples))
    raise TypeError(f"default_collate: don't know how to batch samples of type {type(first).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    ``shuffle`` draws a new order every epoch; ``drop_last`` drops a final batch that
    would be smaller than ``batch_size``; ``batch_size=None`` yields single samples.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool = False, drop_last: bool = False,
                 generator: Any = None, collate_fn: Callable[[list[Any]], Any] | None = None,
                 **ignored: Any) -> None:
        unsupported = {key for key in ignored if key not in ("num_workers", "pin_memory", "persistent_workers")}
        if unsupported:
            raise TypeError(f"DataLoader: unexpected arguments {sorted(unsupported)}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.generator, self.collate_fn = generator, collate_fn

    def _order(self) -> list[int]:
        if self.shuffle:
            return randperm(len(self.dataset), generator=self.generator).tolist()
        return list(range(len(self.dataset)))

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        if self.batch_size is None:
            for index in order:
                yield self.dataset[index]
            return
        for start in range(0, len(order), self.batch_size):
            indices = order[start:start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                return
            if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
                yield self.dataset.get_batch(indices)
            else:
                yield (self.collate_fn or default_collate)([self.dataset[index] for index in indices])

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.dataset)
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return math.ceil(len(self.dataset) / self.batch_size)
