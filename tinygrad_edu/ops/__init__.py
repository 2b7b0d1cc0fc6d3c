"""The primitive ops: the only places where a backward rule is written by hand.

Reading order: ``elementwise`` (unary and binary math), ``reduce`` (sum, max, prod),
``movement`` (reshape, permute, expand, indexing, cat), ``matmul``, and ``special``
(erf, softplus and the binary cross-entropy, which ``nn`` needs for accuracy), and ``fused``
(linear, MSE and cross-entropy as single ops, for speed). Every other op is
composed from these in ``tensor.py`` and gets its gradient from them.
"""
from tinygrad_edu.ops.elementwise import (
    Abs, Add, Cast, Clone, Cos, Div, Exp, Log, Mul, Neg, Pow, Relu, Remainder, Sigmoid, Sign, Sin, Sqrt, Sub, Tanh, Where,
)
from tinygrad_edu.ops.fused import CrossEntropy, Linear, MseLoss
from tinygrad_edu.ops.matmul import Matmul
from tinygrad_edu.ops.movement import Cat, Expand, Index, IndexAdd, IndexPut, Permute, Reshape, ToDevice
from tinygrad_edu.ops.reduce import Amax, Cumsum, Prod, Sum
from tinygrad_edu.ops.special import BinaryCrossEntropy, CountNonzero, Erf, Softplus

__all__ = [
    "Abs", "Add", "Amax", "BinaryCrossEntropy", "Cast", "Cat", "Clone", "Cos", "CountNonzero", "CrossEntropy", "Cumsum", "Div",
    "Erf", "Exp", "Expand", "Index", "IndexAdd", "IndexPut", "Linear", "Log", "Matmul", "MseLoss", "Mul", "Neg",
    "Permute", "Pow", "Prod", "Relu", "Remainder", "Reshape", "Sigmoid", "Sign", "Sin", "Softplus", "Sqrt", "Sub",
    "Sum", "Tanh", "ToDevice", "Where",
]
