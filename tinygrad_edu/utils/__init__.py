"""``tinygrad_edu.utils``: ``utils.data`` (datasets and batching)."""
from tinygrad_edu.utils import data

__all__ = ["data"]
