"""A first look at tinygrad_edu: build a small graph, back-propagate, check the gradients.

Run:  python examples/autograd_tour.py
"""
import tinygrad_edu as te
from tinygrad_edu.autograd import gradcheck, gradgradcheck

te.manual_seed(0)

# 1. A tiny neuron: y = sigmoid(w . x + b), and a squared-error loss against a target.
x = te.tensor([0.5, -1.0, 2.0])
w = te.randn(3, requires_grad=True)
b = te.tensor(0.1, requires_grad=True)
target = te.tensor(1.0)

y = (w @ x + b).sigmoid()
loss = (y - target) ** 2
print("prediction:", y)
print("loss:      ", loss)  # its grad_fn names the last op that made it

# 2. Reverse mode: one backward() fills .grad of every leaf that requires grad.
loss.backward()
print("dloss/dw:  ", w.grad)
print("dloss/db:  ", b.grad)

# 3. The same numbers by hand, with the chain rule: dloss/dz = 2 (y - t) * y (1 - y).
dz = 2 * (y.item() - 1.0) * y.item() * (1 - y.item())
print("by hand:   ", [round(dz * xi, 4) for xi in x.tolist()], round(dz, 4))

# 4. Gradient checking: compare backward() with central finite differences in float64,
#    for the first and the second derivatives.
def neuron_loss(w, b):
    return ((w @ x.double() + b).sigmoid() - 1.0) ** 2

print("gradcheck:    ", gradcheck(neuron_loss, (w, b)))
print("gradgradcheck:", gradgradcheck(neuron_loss, (w, b)))
