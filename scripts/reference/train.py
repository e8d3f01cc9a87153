"""The serial training loop of docs/algorithm.md (what N ranks must reproduce):
epoch shuffle, consecutive global batches, KL warm-up, one step counter."""
import math

import model
import optim
from philox import epoch_order, training_noise


def steps_per_epoch(rows, global_batch, last_batch):
    if last_batch == "partial":
        return math.ceil(rows / global_batch)
    if last_batch == "drop":
        return rows // global_batch
    raise ValueError(last_batch)


def batches(seed, epoch, rows, global_batch, last_batch):
    """Data-file row indices of each step of the epoch, in order."""
    order = epoch_order(seed, epoch, rows)
    for s in range(steps_per_epoch(rows, global_batch, last_batch)):
        yield order[s * global_batch:(s + 1) * global_batch]


def beta_at(beta, t, kl_warmup, spe):
    return beta if kl_warmup <= 0 else beta * min(1.0, t / (kl_warmup * spe))


def train(data, cfg, params, *, seed, epochs, global_batch, beta, kl_warmup,
          last_batch, optimizer, lr, momentum=0.9, clip=0.0, weight_decay=0.0):
    """Returns (final params, per-step records [(t, epoch, rows, beta_t, loss, recon, kl)])."""
    rows = data.shape[0]
    spe = steps_per_epoch(rows, global_batch, last_batch)
    flat = model.flatten(params)
    opt = optim.make(optimizer, flat.size, lr, momentum)
    t, log = 0, []
    for epoch in range(epochs):
        for batch_rows in batches(seed, epoch, rows, global_batch, last_batch):
            t += 1
            beta_t = beta_at(beta, t, kl_warmup, spe)
            eps = training_noise(seed, epoch, batch_rows, cfg.samples, cfg.latent, cfg.posterior)
            r = model.loss_and_grad(model.unflatten(flat, params), cfg, data[batch_rows], eps, beta_t)
            log.append((t, epoch, batch_rows, beta_t, r["loss"], r["recon"], r["kl"]))
            flat = optim.step(opt, flat, model.flatten(r["grads"]), t, clip, weight_decay)
    return model.unflatten(flat, params), log
