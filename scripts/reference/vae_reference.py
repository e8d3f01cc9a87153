"""Independent NumPy reference for vae-dist, written from docs/algorithm.md only
(never from the Swift sources), so that agreement between the two is evidence.

Modules: philox.py (random numbers), model.py (layout, init, loss, backward),
optim.py (optimizers), train.py (sampler and training loop). This file ties
them together: the per-case computation behind the fixtures and the
finite-difference self-check of the hand-written backward.
"""
import numpy as np

import model
import optim
from model import ModelConfig, init_params, layout, loss_and_grad, flatten, unflatten  # noqa: F401
from philox import (check_known_answers, epoch_order, eval_noise, init_uniforms,  # noqa: F401
                    philox4x32, training_noise)
from train import train  # noqa: F401


def optimizer_steps(params, cfg, x, seed, epoch, batch_rows, beta, name, lr,
                    momentum=0.9, clip=0.0, weight_decay=0.0, steps=3):
    """`steps` updates on the same x; step s uses noise epoch epoch+s-1 and t = s.
    Returns (params after the last step, loss at each step before its update, grad norms)."""
    flat = flatten(params)
    opt = optim.make(name, flat.size, lr, momentum)
    losses, norms = [], []
    for s in range(1, steps + 1):
        eps = training_noise(seed, epoch + s - 1, batch_rows, cfg.samples, cfg.latent, cfg.posterior)
        r = loss_and_grad(unflatten(flat, params), cfg, x, eps, beta)
        g = flatten(r["grads"])
        losses.append(r["loss"])
        norms.append(float(np.sqrt(g @ g)))
        flat = optim.step(opt, flat, g, s, clip, weight_decay)
    return unflatten(flat, params), np.array(losses), norms


def self_check(params, cfg, x, eps, beta, h=1e-3, floor=1e-8):
    """Largest |fd - analytic| / max(|fd|, |analytic|, floor) over EVERY element
    of every tensor, with fd the fourth-order central difference of the float64
    loss. O(h^4) truncation lets h be large enough that round-off in the loss
    (~1e-16 |loss| / h) stays negligible. Returns (error, worst element)."""
    grads = loss_and_grad(params, cfg, x, eps, beta)["grads"]
    worst, where = 0.0, None
    for name, p in params.items():
        for idx in np.ndindex(p.shape):
            def f(delta):
                q = dict(params)
                q[name] = p.copy()
                q[name][idx] += delta
                return loss_and_grad(q, cfg, x, eps, beta, want_grad=False)["loss"]
            # Differences first: summing 8f - f terms directly loses bits of |loss|.
            fd = (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h)
            an = grads[name][idx]
            err = abs(fd - an) / max(abs(fd), abs(an), floor)
            if err >= worst:
                worst, where = err, (name, idx, fd, an)
    return worst, where
