"""PyTorch reference benchmark: the model and step of bench_common.py's
docstring, written as a PyTorch user would (nn.Linear layers, autograd,
torch.optim.Adam with its defaults but eps stated), eager mode on the CPU.

Variants: `default`, and `--ftz` (torch.set_flush_denormal(True): dead ReLU
units' Adam moments otherwise decay into subnormals and slow Adam down, see
BASELINES.md). Batches are gathered from the preloaded data set with a fresh
torch.randperm each epoch; the shorter last batch is trained on. A few steps
on a throw-away model run before the timed epochs.

Prints progress on stderr and one JSON object on stdout; when PyTorch cannot
be imported it reports a skip and exits 0.
"""
import bench_common as common

torch = F = None  # imported in main(), after the thread settings

WARMUP_STEPS = 5


def make_model():
    """nn.Linear's default init is uniform in +-1/sqrt(fan_in) for weight and bias,
    the `pytorch` init of docs/algorithm.md. The mu and logvar heads are one
    [2 latent, hidden] layer (one GEMM), as docs/algorithm.md lays them out."""
    return torch.nn.ModuleDict({
        "encoder_hidden": torch.nn.Linear(common.DATA_DIM, common.HIDDEN),
        "encoder_head": torch.nn.Linear(common.HIDDEN, 2 * common.LATENT),
        "decoder_hidden": torch.nn.Linear(common.LATENT, common.HIDDEN),
        "decoder_out": torch.nn.Linear(common.HIDDEN, common.DATA_DIM),
    })


def neg_elbo_sum(model, x, noise):
    """Sum over the rows of -ELBO: Bernoulli -log p(x|z) on logits (summed over
    pixels) + analytic KL, one posterior sample per row. x [rows, 784], noise [rows, 20]."""
    head = model["encoder_head"](F.relu(model["encoder_hidden"](x)))
    mu, logvar = head.chunk(2, dim=1)
    z = mu + torch.exp(0.5 * logvar) * noise
    logits = model["decoder_out"](F.relu(model["decoder_hidden"](z)))
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar)
    return recon + kl


def train_step(model, optimizer, x):
    """One Adam step on the mean over the rows of the per-datapoint -ELBO."""
    noise = torch.randn(x.shape[0], common.LATENT)
    loss = neg_elbo_sum(model, x, noise) / x.shape[0]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def make_optimizer(model):
    return torch.optim.Adam(model.parameters(), lr=common.LEARNING_RATE, eps=common.ADAM_EPS)


def main():
    global torch, F
    p = common.parser("PyTorch reference benchmark of the vae-dist model (see bench_common.py)")
    p.add_argument("--ftz", action="store_true",
                   help="flush denormals to zero (torch.set_flush_denormal) before any worker thread starts")
    args = p.parse_args()
    common.validate(p, args)

    cpus = common.limit_threads(args.threads)
    try:
        import torch
        import torch.nn.functional as F
    except Exception as error:  # absent, or a broken install: the bench goes on without it
        common.skip("pytorch", f"PyTorch not usable: {type(error).__name__}: {error}")

    # set_flush_denormal sets FTZ/DAZ in this thread's MXCSR only; threads created
    # later (the OpenMP pool, at the first parallel op) inherit it, so do it first.
    flush_denormal = bool(torch.set_flush_denormal(True)) if args.ftz else False
    if args.ftz and not flush_denormal:
        common.log("warning: torch.set_flush_denormal(True) is not supported on this CPU")
    torch.set_num_threads(args.threads)

    variant = "ftz" if args.ftz else "default"
    common.log(f"pytorch {torch.__version__}, variant {variant}, {torch.get_num_threads()} thread(s) "
               f"on CPUs {cpus}, batch {args.batch}")

    train_x, test_x = common.load_fashion_mnist(args.data_dir)
    train_data, test_data = torch.from_numpy(train_x), torch.from_numpy(test_x)
    rows = train_data.shape[0]
    full_steps, last_rows = common.epoch_plan(rows, args.batch, args.steps_limit)

    # Warm-up on a throw-away model: first-call allocations and thread start-up.
    torch.manual_seed(args.seed + 1)
    warmup_model = make_model()
    warmup_optimizer = make_optimizer(warmup_model)
    for step in range(WARMUP_STEPS):
        train_step(warmup_model, warmup_optimizer, train_data[step * args.batch:(step + 1) * args.batch])
    del warmup_model, warmup_optimizer

    torch.manual_seed(args.seed)
    model = make_model()
    optimizer = make_optimizer(model)

    def train_epoch(epoch):
        order = torch.randperm(rows)
        for step in range(full_steps):
            train_step(model, optimizer, train_data[order[step * args.batch:(step + 1) * args.batch]])
        if last_rows:
            start = full_steps * args.batch
            train_step(model, optimizer, train_data[order[start:start + last_rows]])
        return full_steps * args.batch + last_rows

    chunk = 2000

    @torch.no_grad()
    def evaluate():
        generator = torch.Generator().manual_seed(args.seed + 2)  # the same noise after every epoch
        total = 0.0
        for begin in range(0, test_data.shape[0], chunk):
            x = test_data[begin:begin + chunk]
            noise = torch.randn(x.shape[0], common.LATENT, generator=generator)
            total += float(neg_elbo_sum(model, x, noise))
        return total / test_data.shape[0]

    result = {"framework": "pytorch", "version": torch.__version__, "threads": args.threads,
              "batch": args.batch, "variant": variant, "epochs": args.epochs,
              "steps_per_epoch": full_steps + (1 if last_rows else 0)}
    result.update(common.run_epochs(args, train_epoch, evaluate))
    config = [line.strip()[:300] for line in torch.__config__.show().splitlines() if line.strip()]
    result["blas"] = {"config": config[:12],
                      "parallel_info": [line.strip() for line in torch.__config__.parallel_info().splitlines()
                                        if line.strip()][:8],
                      "mkl": torch.backends.mkl.is_available(), "mkldnn": torch.backends.mkldnn.is_available(),
                      "num_threads": torch.get_num_threads(), "flush_denormal": flush_denormal, "cpus": cpus}
    common.report(result)


if __name__ == "__main__":
    main()
