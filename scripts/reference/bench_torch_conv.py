"""PyTorch reference of vae-dist's default convolutional VAE (`--architecture conv`),
for the speed and quality comparisons of docs/performance.md ("The convolutional model").

The model, exactly vae-dist's for a 1x28x28 image (docs/algorithm.md): encoder
Conv2d(1, 32, 3, stride 2, padding 1) + ReLU, Conv2d(32, 64, 3, 2, 1) + ReLU, flatten,
Linear(3136, 20) for mu and for logvar; decoder Linear(20, 3136) + ReLU, view
[64, 7, 7], ConvTranspose2d(64, 32, 3, 2, 1, output_padding 1) + ReLU,
ConvTranspose2d(32, 1, 3, 2, 1, output_padding 1) giving logits. PyTorch's default
init (uniform +-1/sqrt(fan_in), vae-dist's `pytorch` init), Bernoulli likelihood on
logits, analytic KL, L = 1, Adam(1e-3, eps 1e-8), loss = mean over the batch, batch
128, x = uint8 / 255, a fresh permutation every epoch, the last shorter batch
trained on. The state_dict names are vae-dist's checkpoint names.

`--ftz` sets flush-to-zero as vae-dist does. `--eval` adds the test -ELBO (one noise
draw per row) after each epoch: 10 epochs with --eval and several --seed values give
the quality reference. Prints progress on stderr and one JSON object on stdout; skips
(exit 0) when PyTorch cannot be imported.
"""
import bench_common as common

torch = F = None  # imported in main(), after the thread settings

WARMUP_STEPS = 5


def make_model():
    nn = torch.nn
    return nn.ModuleDict({
        "encoder": nn.ModuleDict({
            "conv1": nn.Conv2d(1, 32, 3, stride=2, padding=1),
            "conv2": nn.Conv2d(32, 64, 3, stride=2, padding=1),
            "mu": nn.Linear(64 * 7 * 7, common.LATENT),
            "logvar": nn.Linear(64 * 7 * 7, common.LATENT),
        }),
        "decoder": nn.ModuleDict({
            "fc": nn.Linear(common.LATENT, 64 * 7 * 7),
            "deconv1": nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),
            "deconv2": nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1),
        }),
    })


def neg_elbo_sum(model, x, noise):
    """Sum over the rows of -ELBO; x [rows, 784], noise [rows, 20]."""
    encoder, decoder = model["encoder"], model["decoder"]
    h = F.relu(encoder["conv1"](x.view(-1, 1, 28, 28)))
    h = F.relu(encoder["conv2"](h)).flatten(1)
    mu, logvar = encoder["mu"](h), encoder["logvar"](h)
    z = mu + torch.exp(0.5 * logvar) * noise
    d = F.relu(decoder["fc"](z)).view(-1, 64, 7, 7)
    d = F.relu(decoder["deconv1"](d))
    logits = decoder["deconv2"](d).flatten(1)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar)
    return recon + kl


def train_step(model, optimizer, x):
    noise = torch.randn(x.shape[0], common.LATENT)
    loss = neg_elbo_sum(model, x, noise) / x.shape[0]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main():
    global torch, F
    p = common.parser("PyTorch reference of vae-dist's default convolutional VAE")
    p.add_argument("--ftz", action="store_true", help="flush denormals to zero, as vae-dist does")
    args = p.parse_args()
    common.validate(p, args)
    cpus = common.limit_threads(args.threads)
    try:
        import torch
        import torch.nn.functional as F
    except Exception as error:
        common.skip("pytorch-conv", f"PyTorch not usable: {type(error).__name__}: {error}")
    flush_denormal = bool(torch.set_flush_denormal(True)) if args.ftz else False
    torch.set_num_threads(args.threads)
    common.log(f"pytorch {torch.__version__} conv VAE, {torch.get_num_threads()} thread(s) on CPUs {cpus}, "
               f"batch {args.batch}, seed {args.seed}, mkldnn {torch.backends.mkldnn.is_available()}")

    train_x, test_x = common.load_fashion_mnist(args.data_dir)
    train_data, test_data = torch.from_numpy(train_x), torch.from_numpy(test_x)
    rows = train_data.shape[0]
    full_steps, last_rows = common.epoch_plan(rows, args.batch, args.steps_limit)

    torch.manual_seed(args.seed + 1)
    warmup_model = make_model()
    warmup_optimizer = torch.optim.Adam(warmup_model.parameters(), lr=common.LEARNING_RATE, eps=common.ADAM_EPS)
    for step in range(WARMUP_STEPS):
        train_step(warmup_model, warmup_optimizer, train_data[step * args.batch:(step + 1) * args.batch])
    del warmup_model, warmup_optimizer

    torch.manual_seed(args.seed)
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=common.LEARNING_RATE, eps=common.ADAM_EPS)

    def train_epoch(epoch):
        order = torch.randperm(rows)
        for step in range(full_steps):
            train_step(model, optimizer, train_data[order[step * args.batch:(step + 1) * args.batch]])
        if last_rows:
            start = full_steps * args.batch
            train_step(model, optimizer, train_data[order[start:start + last_rows]])
        return full_steps * args.batch + last_rows

    @torch.no_grad()
    def evaluate():
        generator = torch.Generator().manual_seed(args.seed + 2)
        total = 0.0
        for begin in range(0, test_data.shape[0], 1000):
            x = test_data[begin:begin + 1000]
            total += float(neg_elbo_sum(model, x, torch.randn(x.shape[0], common.LATENT, generator=generator)))
        return total / test_data.shape[0]

    result = {"framework": "pytorch-conv", "version": torch.__version__, "threads": args.threads,
              "batch": args.batch, "variant": "ftz" if args.ftz else "default", "seed": args.seed,
              "epochs": args.epochs, "flush_denormal": flush_denormal,
              "parameters": sum(t.numel() for t in model.parameters())}
    result.update(common.run_epochs(args, train_epoch, evaluate))
    common.report(result)


if __name__ == "__main__":
    main()
