"""Optimizers over the flat float64 parameter buffer (PyTorch semantics,
docs/algorithm.md): clipping, then coupled weight decay, then the update."""
import numpy as np


def preprocess(g, p, clip, weight_decay):
    if clip > 0:
        n = np.sqrt(np.sum(g * g))  # L2 norm over the whole flat buffer
        if n > clip:
            g = g * (clip / (n + 1e-6))
    return g + weight_decay * p


class Adam:
    def __init__(self, size, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m, self.v = np.zeros(size), np.zeros(size)

    def update(self, p, g, t):
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        m_hat = self.m / (1 - self.beta1 ** t)
        v_hat = self.v / (1 - self.beta2 ** t)
        return p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class Adagrad:
    def __init__(self, size, lr, eps=1e-10):
        self.lr, self.eps = lr, eps
        self.s = np.zeros(size)

    def update(self, p, g, t):
        self.s = self.s + g * g
        return p - self.lr * g / (np.sqrt(self.s) + self.eps)


class SGD:
    def __init__(self, size, lr, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.buf = None

    def update(self, p, g, t):
        # PyTorch seeds the buffer with the first gradient (no dampening).
        self.buf = g.copy() if t == 1 else self.momentum * self.buf + g
        return p - self.lr * self.buf


def make(name, size, lr, momentum=0.9):
    return {"adam": lambda: Adam(size, lr), "adagrad": lambda: Adagrad(size, lr),
            "sgd": lambda: SGD(size, lr, momentum)}[name]()


def step(opt, p, g, t, clip=0.0, weight_decay=0.0):
    return opt.update(p, preprocess(g, p, clip, weight_decay), t)
