"""JAX reference benchmark: the model and step of bench_common.py's docstring,
written as a JAX user would (value_and_grad, a hand-written Adam over the
parameter pytree, everything in one jitted function), on the CPU backend.

Variants: `jit` (default) dispatches one compiled step per batch from Python;
`--scan` runs the epoch's full batches as one compiled lax.scan. Both gather
the batch rows on the device from the preloaded data set; the shorter last
batch is one more compiled step of its own shape. Everything is compiled and
run once on throw-away state before the timed epochs.

Prints progress on stderr and one JSON object on stdout; when JAX cannot be
imported it reports a skip and exits 0.
"""
import functools
import os
import time

import numpy as np

import bench_common as common

jax = jnp = lax = None  # imported in main(), after the thread settings


def init_params(key):
    """PyTorch nn.Linear init: weight and bias uniform in +-1/sqrt(fan_in); [out, in] weights.
    The mu and logvar heads are one [2 latent, hidden] layer, as in docs/algorithm.md."""
    shapes = {"encoder_hidden": (common.HIDDEN, common.DATA_DIM),
              "encoder_head": (2 * common.LATENT, common.HIDDEN),
              "decoder_hidden": (common.HIDDEN, common.LATENT),
              "decoder_out": (common.DATA_DIM, common.HIDDEN)}
    params = {}
    for index, (name, (fan_out, fan_in)) in enumerate(shapes.items()):
        weight_key, bias_key = jax.random.split(jax.random.fold_in(key, index))
        bound = 1.0 / fan_in ** 0.5
        params[name + ".weight"] = jax.random.uniform(weight_key, (fan_out, fan_in), jnp.float32, -bound, bound)
        params[name + ".bias"] = jax.random.uniform(bias_key, (fan_out,), jnp.float32, -bound, bound)
    return params


def dense(params, name, x):
    return x @ params[name + ".weight"].T + params[name + ".bias"]


def neg_elbo_sum(params, x, noise):
    """Sum over the rows of -ELBO: Bernoulli -log p(x|z) on logits (summed over
    pixels) + analytic KL, one posterior sample per row. x [rows, 784], noise [rows, 20]."""
    head = dense(params, "encoder_head", jax.nn.relu(dense(params, "encoder_hidden", x)))
    mu, logvar = head[:, :common.LATENT], head[:, common.LATENT:]
    z = mu + jnp.exp(0.5 * logvar) * noise
    logits = dense(params, "decoder_out", jax.nn.relu(dense(params, "decoder_hidden", z)))
    recon = jnp.sum(jnp.maximum(logits, 0) - x * logits + jnp.log1p(jnp.exp(-jnp.abs(logits))))
    kl = 0.5 * jnp.sum(mu * mu + jnp.exp(logvar) - 1 - logvar)
    return recon + kl


def init_state(key):
    params = init_params(key)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return {"params": params, "m": zeros, "v": jax.tree_util.tree_map(jnp.zeros_like, params),
            "t": jnp.zeros((), jnp.int32)}


def adam(state, grads, beta1=0.9, beta2=0.999):
    """PyTorch Adam (no weight decay), step t 1-based."""
    t = state["t"] + 1
    tree_map = jax.tree_util.tree_map
    m = tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, state["m"], grads)
    v = tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, state["v"], grads)
    correction1 = 1 - beta1 ** t.astype(jnp.float32)
    correction2 = 1 - beta2 ** t.astype(jnp.float32)
    params = tree_map(lambda p, m, v: p - common.LEARNING_RATE * (m / correction1)
                      / (jnp.sqrt(v / correction2) + common.ADAM_EPS), state["params"], m, v)
    return {"params": params, "m": m, "v": v, "t": t}


def train_step(state, data, order, step, epoch_key, *, batch, rows):
    """Step `step` of the epoch: rows order[step*batch : step*batch + rows] of data.
    The loss is the mean over the rows of the per-datapoint -ELBO."""
    x = data[lax.dynamic_slice_in_dim(order, step * batch, rows)]  # [rows, 784]
    noise = jax.random.normal(jax.random.fold_in(epoch_key, step), (rows, common.LATENT))
    grads = jax.grad(lambda p: neg_elbo_sum(p, x, noise) / rows)(state["params"])
    return adam(state, grads)


def scan_steps(state, data, order, epoch_key, *, batch, steps):
    """Steps 0..steps-1 of the epoch as one compiled loop."""
    def body(state, step):
        return train_step(state, data, order, step, epoch_key, batch=batch, rows=batch), None
    state, _ = lax.scan(body, state, jnp.arange(steps, dtype=jnp.int32))
    return state


def main():
    global jax, jnp, lax
    p = common.parser("JAX reference benchmark of the vae-dist model (see bench_common.py)")
    p.add_argument("--scan", action="store_true", help="run each epoch's full batches as one lax.scan")
    args = p.parse_args()
    common.validate(p, args)

    xla_flags = os.environ.get("XLA_FLAGS", "")
    if args.threads == 1:
        # Single-threaded Eigen for XLA's CPU matmuls; the CPU pinning limits the rest.
        xla_flags += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    cpus = common.limit_threads(args.threads, {"XLA_FLAGS": xla_flags.strip(),
                                               "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")})
    try:
        import jax
        import jax.numpy as jnp
        from jax import lax
        backend = jax.default_backend()
    except Exception as error:  # absent, or a broken install: the bench goes on without it
        common.skip("jax", f"JAX not usable: {type(error).__name__}: {error}")
    import jaxlib

    variant = "scan" if args.scan else "jit"
    common.log(f"jax {jax.__version__} ({backend}), variant {variant}, {args.threads} thread(s) "
               f"on CPUs {cpus}, batch {args.batch}, XLA_FLAGS={os.environ['XLA_FLAGS']!r}")

    train_x, test_x = common.load_fashion_mnist(args.data_dir)
    rows = train_x.shape[0]
    full_steps, last_rows = common.epoch_plan(rows, args.batch, args.steps_limit)
    data = jax.device_put(train_x)
    test_data = jax.device_put(test_x)

    root_key = jax.random.PRNGKey(args.seed)
    init_key, train_key, eval_key, warmup_key = jax.random.split(root_key, 4)
    permutation = jax.jit(lambda key: jax.random.permutation(key, rows).astype(jnp.int32))

    def compile_step(step_rows):
        fn = functools.partial(train_step, batch=args.batch, rows=step_rows)
        return jax.jit(fn, donate_argnums=0)

    def compile_scan():
        fn = functools.partial(scan_steps, batch=args.batch, steps=full_steps)
        return jax.jit(fn, donate_argnums=0)

    # Compile (ahead of time) and run everything once on throw-away state.
    start = time.perf_counter()
    example_order = permutation(warmup_key)
    state_shape = init_state(warmup_key)
    step0 = jnp.int32(0)
    if args.scan:
        full_fn = compile_scan().lower(state_shape, data, example_order, warmup_key).compile()
    else:
        full_fn = compile_step(args.batch).lower(state_shape, data, example_order, step0, warmup_key).compile()
    last_fn = (compile_step(last_rows).lower(state_shape, data, example_order, step0, warmup_key).compile()
               if last_rows else None)
    compile_seconds = time.perf_counter() - start

    def run_epoch(state, epoch_key):
        order_key, noise_key = jax.random.split(epoch_key)
        order = permutation(order_key)
        if args.scan:
            state = full_fn(state, data, order, noise_key)
        else:
            for step in range(full_steps):
                state = full_fn(state, data, order, np.int32(step), noise_key)
        if last_fn is not None:
            state = last_fn(state, data, order, np.int32(full_steps), noise_key)
        return jax.block_until_ready(state)

    run_epoch(init_state(warmup_key), warmup_key)
    warmup_seconds = time.perf_counter() - start - compile_seconds
    common.log(f"compiled in {compile_seconds:.2f} s, warm-up epoch {warmup_seconds:.2f} s (not timed)")

    state = init_state(init_key)

    def train_epoch(epoch):
        nonlocal state
        state = run_epoch(state, jax.random.fold_in(train_key, epoch))
        return full_steps * args.batch + last_rows

    eval_chunk = jax.jit(neg_elbo_sum)
    chunk = 2000

    def evaluate():
        total = 0.0
        for index, begin in enumerate(range(0, test_x.shape[0], chunk)):
            x = test_data[begin:begin + chunk]
            noise = jax.random.normal(jax.random.fold_in(eval_key, index), (x.shape[0], common.LATENT))
            total += float(eval_chunk(state["params"], x, noise))
        return total / test_x.shape[0]

    result = {"framework": "jax", "version": jax.__version__, "threads": args.threads,
              "batch": args.batch, "variant": variant, "epochs": args.epochs,
              "steps_per_epoch": full_steps + (1 if last_rows else 0)}
    result.update(common.run_epochs(args, train_epoch, evaluate))
    result["compile_seconds"] = compile_seconds
    result["blas"] = {"backend": backend, "devices": [str(d) for d in jax.devices()],
                      "jaxlib": jaxlib.__version__, "xla_flags": os.environ["XLA_FLAGS"], "cpus": cpus}
    common.report(result)


if __name__ == "__main__":
    main()
