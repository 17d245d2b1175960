"""Micrograd-style checks: scalar expressions built twice, with a tiny scalar autograd and with PyTorch.

`Value` below is a complete reverse-mode autograd on Python floats (a topological sort and a reverse loop);
each check builds the same expression from `Value`s and from float64 tensors, runs backward on both and
compares values and gradients. It runs under pytest or as a script, which prints one line per check:

    python examples/pytorch_style/micrograd_checks.py
"""

import math

import torch


class Value:
    """A scalar with a gradient; operations record how to push the gradient back to their inputs."""

    def __init__(self, data, _children=(), _op=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        assert isinstance(k, (int, float)), "only int/float powers"
        out = Value(self.data ** k, (self,), f'**{k}')

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), 'ReLU')

        def _backward():
            self.grad += (out.data > 0) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), 'tanh')

        def _backward():
            self.grad += (1 - out.data ** 2) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), 'exp')

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), 'log')

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other ** -1

    def __rtruediv__(self, other):
        return other * self ** -1

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


TOL = 1e-6


def report(name, out, leaves):
    """One parseable line: the output value and each leaf's gradient."""
    print(name, 'value', f'{out:.10g}', 'grads', ' '.join(f'{g:.10g}' for g in leaves))


def test_sanity_check():
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xmg, ymg = x, y

    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xpt, ypt = x, y

    # forward pass went well
    assert ymg.data == ypt.data.item()
    # backward pass went well
    assert xmg.grad == xpt.grad.item()
    report('sanity', ypt.item(), [xpt.grad.item()])


def test_more_ops():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b ** 3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    amg, bmg, gmg = a, b, g

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    apt, bpt, gpt = a, b, g

    # forward pass went well
    assert abs(gmg.data - gpt.data.item()) < TOL
    # backward pass went well
    assert abs(amg.grad - apt.grad.item()) < TOL
    assert abs(bmg.grad - bpt.grad.item()) < TOL
    report('more_ops', gpt.item(), [apt.grad.item(), bpt.grad.item()])


def test_in_place_accumulation():
    """`+=` on non-leaf tensors and a value used many times: gradients accumulate along every path."""
    x = Value(1.5)
    y = x * x
    y += x * 3
    y += x.exp() - (x ** -2)
    y.backward()
    xmg, ymg = x, y

    x = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    y = x * x
    y += x * 3
    y += x.exp() - (x ** -2)
    y.backward()

    assert abs(ymg.data - y.item()) < TOL
    assert abs(xmg.grad - x.grad.item()) < TOL
    report('in_place', y.item(), [x.grad.item()])


def test_in_place_on_a_saved_value_is_an_error():
    """Overwriting a tensor that a recorded product still needs makes backward refuse, not compute nonsense."""
    x = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    y = x * x
    z = y * x
    y += 1
    try:
        z.backward()
    except RuntimeError as e:
        assert 'inplace' in str(e)
        print('in_place_error raised')
    else:
        raise AssertionError('backward through a modified saved tensor did not raise')


def test_neuron():
    """A tanh neuron with three inputs, as micrograd's nn.Neuron computes it."""
    xs, ws, bias = [0.5, -1.0, 2.0], [0.3, -0.7, 0.1], -0.2
    w = [Value(v) for v in ws]
    b = Value(bias)
    act = sum((wi * xi for wi, xi in zip(w, xs)), b)
    out = act.tanh()
    loss = (out - 1.0) ** 2 + (out + 1e-3).log() * -0.1
    loss.backward()

    wt = torch.tensor(ws, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(bias, dtype=torch.float64, requires_grad=True)
    out_t = torch.tanh(wt @ torch.tensor(xs, dtype=torch.float64) + bt)
    loss_t = (out_t - 1.0) ** 2 + torch.log(out_t + 1e-3) * -0.1
    loss_t.backward()

    assert abs(loss.data - loss_t.item()) < TOL
    for wi, gi in zip(w, wt.grad.tolist()):
        assert abs(wi.grad - gi) < TOL
    assert abs(b.grad - bt.grad.item()) < TOL
    report('neuron', loss_t.item(), [*wt.grad.tolist(), bt.grad.item()])


def test_gradients_accumulate_across_backward_calls():
    """Two backward passes without zeroing add up, as `.grad` does in PyTorch; `.grad.zero_()` resets."""
    x = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    assert abs(x.grad.item() - (2 * 2.0 + 3)) < TOL
    first = x.grad.item()
    x.grad.zero_()
    (x ** 3).sum().backward()
    assert abs(x.grad.item() - 3 * 2.0 ** 2) < TOL
    report('accumulate', first, [x.grad.item()])


if __name__ == '__main__':
    for name, check in list(globals().items()):
        if name.startswith('test_') and callable(check):
            check()
    print('all checks passed')
