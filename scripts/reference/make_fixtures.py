"""Write the reference fixtures that the Swift tests compare against.

Regenerate (from the repository root; deterministic, same bytes every run):

    python3 scripts/reference/make_fixtures.py

Writes Tests/Fixtures/<case>/manifest.json and Tests/Fixtures/<case>/data.bin
for each case below. data.bin is raw little-endian float32, tensors
concatenated; manifest.json maps each tensor name to its shape, offset (in
float32 elements into data.bin) and count, and carries the case's config.

Cases: four model cases (init, forward, gradients, 3 steps of Adam, Adagrad
and SGD-momentum), "rng" (Philox known answers, shuffles, normals, init
uniforms; JSON only), "block_shuffle" (--shuffle blocks orders; JSON only) and
"train_small" (a 10-step training run with a partial last batch and KL warm-up,
for the data-parallel tests). Name cases to write only those:

    python3 scripts/reference/make_fixtures.py block_shuffle

Before writing anything it checks the Philox known-answer vectors and runs
the finite-difference self-check of the backward on every case; it refuses
to write if any relative error exceeds 1e-6.
"""
import json
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep scripts/reference free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vae_reference as ref  # noqa: E402
from philox import KNOWN_ANSWERS, block_epoch_order, philox4x32, seed_key, c3_word  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures")
TOLERANCE = 1e-6

COMMON = dict(gaussian_variance=1.0, clip=0.0, weight_decay=0.0, beta=1.0,
              lr_adam=0.01, lr_adagrad=0.05, lr_sgd=0.01, momentum=0.9)
MODEL_CASES = [
    dict(COMMON, case="bernoulli_B_L1_relu", data_dim=12, hidden=[7], latent=3, activation="relu",
         likelihood="bernoulli", estimator="B", samples=1, seed=1234, epoch=2, init="pytorch",
         batch_rows=[3, 17, 4, 250, 99],
         description="Bernoulli, estimator B (analytic KL), L=1, ReLU, PyTorch init."),
    dict(COMMON, case="bernoulli_A_L3_tanh", data_dim=10, hidden=[7, 5], latent=3, activation="tanh",
         likelihood="bernoulli", estimator="A", samples=3, beta=0.7, seed=77, epoch=0, init="glorot",
         batch_rows=[8, 1, 1000, 42],
         description="Bernoulli, estimator A (sampled log q - log p, total derivative), L=3, "
                     "two hidden layers, tanh, Glorot init, beta 0.7."),
    dict(COMMON, case="gaussian_B_L2_softplus", data_dim=8, hidden=[6], latent=2, activation="softplus",
         likelihood="gaussian", gaussian_variance=0.5, estimator="B", samples=2, beta=1.3, seed=5,
         epoch=1, init="pytorch", clip=0.5, weight_decay=0.01, batch_rows=[5, 0, 65536],
         description="Gaussian likelihood (variance 0.5), estimator B, L=2, softplus, beta 1.3, "
                     "clipping 0.5 (active) and weight decay 0.01."),
    dict(COMMON, case="bernoulli_A_L1_sigmoid", data_dim=9, hidden=[6], latent=5, activation="sigmoid",
         likelihood="bernoulli", estimator="A", samples=1, seed=2026, epoch=3, init="pytorch",
         weight_decay=0.001, batch_rows=[12, 7, 300, 2, 4096, 31],
         description="Bernoulli, estimator A, L=1, sigmoid, latent 5 (not a multiple of 4), "
                     "weight decay 0.001."),
    # Posterior families and the learned-variance likelihood (docs/families.md).
    dict(COMMON, case="laplace_B_L2_tanh", data_dim=9, hidden=[6], latent=5, activation="tanh",
         likelihood="bernoulli", posterior="laplace", estimator="B", samples=2, seed=31, epoch=1,
         init="pytorch", batch_rows=[4, 19, 700, 2],
         description="Laplace posterior (inverse-CDF noise), estimator B (closed-form KL), L=2, tanh."),
    dict(COMMON, case="logistic_A_L1_softplus", data_dim=8, hidden=[6], latent=3, activation="softplus",
         likelihood="bernoulli", posterior="logistic", estimator="A", samples=1, seed=0x2000000A1,
         epoch=4, init="glorot", batch_rows=[0, 11, 12345],
         description="Logistic posterior, estimator A (sampled log q - log p), L=1, softplus, Glorot."),
    dict(COMMON, case="gumbel_B_L2_tanh", data_dim=7, hidden=[5], latent=6, activation="tanh",
         likelihood="bernoulli", posterior="gumbel", estimator="B", samples=2, beta=0.8, seed=404, epoch=2,
         init="pytorch", batch_rows=[3, 5, 77],
         description="Gumbel posterior (skewed: the KL has the loc*scale*gamma term), estimator B, L=2, beta 0.8."),
    dict(COMMON, case="gumbel_A_L3_sigmoid", data_dim=6, hidden=[5], latent=2, activation="sigmoid",
         likelihood="bernoulli", posterior="gumbel", estimator="A", samples=3, seed=405, epoch=0,
         init="pytorch", batch_rows=[9, 1, 2],
         description="Gumbel posterior, estimator A, L=3, sigmoid."),
    dict(COMMON, case="cauchy_A_L2_tanh", data_dim=8, hidden=[6], latent=5, activation="tanh",
         likelihood="bernoulli", posterior="cauchy", estimator="A", samples=2, seed=66, epoch=3,
         init="pytorch", batch_rows=[2, 30, 31, 4000],
         # |eps| reaches 40 here: the decoder's first layer sees z ~ 40, so the 4th-order
         # difference needs a step 5x smaller for its O((40 h)^4) truncation to stay below 1e-8.
         fd_step=2e-4,
         description="Cauchy posterior (no finite KL: estimator A only), L=2, tanh."),
    dict(COMMON, case="gaussian_learnedvar_A_L2_softplus", data_dim=8, hidden=[6], latent=3,
         activation="softplus", likelihood="gaussian", variance_floor=0.05, estimator="A", samples=2,
         beta=1.2, seed=808, epoch=1, init="pytorch", batch_rows=[6, 2, 90],
         description="Gaussian likelihood with learned per-pixel variance (floor 0.05 + exp(decoder.logvar)), "
                     "data ~ 2 N(0,1), Gaussian posterior, estimator A, L=2."),
    dict(COMMON, case="laplace_learnedvar_B_L1_tanh", data_dim=6, hidden=[5], latent=2, activation="tanh",
         likelihood="gaussian", variance_floor=0.3, posterior="laplace", estimator="B", samples=1, seed=809,
         epoch=0, init="glorot", weight_decay=0.01, batch_rows=[1, 3, 5, 8],
         description="Learned-variance Gaussian likelihood (floor 0.3) with a Laplace posterior, estimator B, "
                     "Glorot init (decoder.logvar still starts at 0), weight decay 0.01."),
    # Mixed precision (docs/algorithm.md): the first two cases again with every matrix
    # product's factors rounded to bfloat16. No finite-difference check (a rounded
    # forward is piecewise constant); their float32 twins check the backward, and they
    # take their twins' data (data_index). Last in the list: the other cases keep their data.
    dict(COMMON, case="bernoulli_B_L1_relu_bf16", data_dim=12, hidden=[7], latent=3, activation="relu",
         likelihood="bernoulli", estimator="B", samples=1, seed=1234, epoch=2, init="pytorch",
         batch_rows=[3, 17, 4, 250, 99], precision="bf16", data_index=0,
         description="bernoulli_B_L1_relu with --precision bf16."),
    dict(COMMON, case="bernoulli_A_L3_tanh_bf16", data_dim=10, hidden=[7, 5], latent=3, activation="tanh",
         likelihood="bernoulli", estimator="A", samples=3, beta=0.7, seed=77, epoch=0, init="glorot",
         batch_rows=[8, 1, 1000, 42], precision="bf16", data_index=1,
         description="bernoulli_A_L3_tanh with --precision bf16."),
    # The convolutional model (docs/algorithm.md, "The convolutional model").
    dict(COMMON, case="conv_bernoulli_B_L1_relu", data_dim=36, hidden=[], latent=3, activation="relu",
         likelihood="bernoulli", estimator="B", samples=1, seed=1717, epoch=1, init="pytorch",
         conv_channels=[3, 4], kernel=3, stride=2, image=[1, 6, 6], batch_rows=[5, 2, 901, 64],
         # Some pre-activations sit within 2e-3 of ReLU's kink: the difference steps stay 10x
         # closer, and the round-off that brings to the smallest gradients (~1e-10 absolute)
         # is measured against a floor of 1e-4 instead of 1e-8.
         fd_step=1e-4, fd_floor=1e-4,
         description="Convolutional VAE on 1x6x6 images: Conv(1->3, k3 s2 p1) -> 3x3, Conv(3->4) -> 2x2, "
                     "dense heads; decoder Linear(3 -> 16), ConvTranspose(4->3, output padding 0) -> 3x3, "
                     "ConvTranspose(3->1, output padding 1) -> 6x6. ReLU, Bernoulli, estimator B, L=1."),
    dict(COMMON, case="conv_rgb_A_L2_tanh", data_dim=90, hidden=[], latent=2, activation="tanh",
         likelihood="gaussian", gaussian_variance=0.5, estimator="A", samples=2, beta=0.9, seed=1818, epoch=0,
         init="glorot", conv_channels=[2, 3], kernel=4, stride=2, image=[3, 6, 5], batch_rows=[7, 3, 12],
         description="Convolutional VAE on 3-channel 6x5 images (channels first in a row), kernel 4 (padding 1), "
                     "stride 2: 6x5 -> 3x2 -> 1x1; the transposed convolutions take output padding (0, 1) and "
                     "(1, 0). Tanh, Gaussian likelihood (variance 0.5), estimator A, L=2, Glorot init."),
]
CONFIG_KEYS = ["data_dim", "hidden", "latent", "activation", "likelihood", "gaussian_variance",
               "estimator", "samples", "beta", "seed", "epoch", "init", "batch_rows", "lr_adam",
               "lr_adagrad", "lr_sgd", "momentum", "weight_decay", "clip"]
BIG_SEED = 0x123456789  # > 2^32 so k1 != 0, < 2^53 so any JSON parser keeps it exact
# Keys written only by the cases that set them, so the older manifests stay byte-identical.
OPTIONAL_CONFIG_KEYS = ["posterior", "variance_floor", "precision", "conv_channels", "kernel", "stride", "image"]


def model_config(c):
    return ref.ModelConfig(data_dim=c["data_dim"], hidden=tuple(c["hidden"]), latent=c["latent"],
                           activation=c["activation"], likelihood=c["likelihood"],
                           gaussian_variance=c["gaussian_variance"], estimator=c["estimator"],
                           samples=c["samples"], posterior=c.get("posterior", "gaussian"),
                           variance_floor=c.get("variance_floor"), precision=c.get("precision", "fp32"),
                           conv=tuple(c["conv_channels"]) if "conv_channels" in c else None,
                           kernel=c.get("kernel", 3), stride=c.get("stride", 2),
                           image=tuple(c["image"]) if "image" in c else None)


def unit_uint8(u8):
    """The data-scaling rule: float32(float64(x) * scale), scale = 1/255."""
    return (u8.astype(np.float64) * (1.0 / 255.0)).astype(np.float32)


def make_x(c, index):
    rng = np.random.default_rng(1000 + index)
    B, D = len(c["batch_rows"]), c["data_dim"]
    if c["likelihood"] == "gaussian":
        return (2.0 * rng.standard_normal((B, D))).astype(np.float32)
    u8 = rng.integers(0, 256, (B, D), dtype=np.uint8)
    u8[0, 0], u8[0, 1], u8[1, 2], u8[2, 3] = 0, 255, 0, 255  # exact 0 and 1 hit the BCE edge cases
    return unit_uint8(u8)


def check(case, err, where):
    print(f"  self-check {case}: max FD relative error {err:.3e} at {where[0]}{list(where[1])}")
    if not err <= TOLERANCE:
        sys.exit(f"error: {case}: backward disagrees with finite differences "
                 f"(relative error {err:.3e} > {TOLERANCE}); no fixtures written")


def build_model_case(c, index):
    cfg = model_config(c)
    params = ref.init_params(cfg, c["seed"], c["init"])
    x = make_x(c, c.get("data_index", index))
    eps = ref.training_noise(c["seed"], c["epoch"], c["batch_rows"], cfg.samples, cfg.latent, cfg.posterior)
    r = ref.loss_and_grad(params, cfg, x, eps, c["beta"])
    if cfg.precision == "fp32":
        check(c["case"], *ref.self_check(params, cfg, x, eps, c["beta"], h=c.get("fd_step", 1e-3),
                                         floor=c.get("fd_floor", 1e-8)))
    g = ref.flatten(r["grads"])
    nonzero = np.abs(g[g != 0])
    print(f"    loss {r['loss']:.6f}  |g| {np.linalg.norm(g):.4f}  min nonzero |g_i| {nonzero.min():.2e}")

    tensors = {f"init/{k}": v for k, v in params.items()}
    tensors.update(x=x, eps=eps, mu=r["mu"], logvar=r["logvar"],
                   loss=[r["loss"]], recon=[r["recon"]], kl=[r["kl"]])
    tensors.update({f"grad/{k}": v for k, v in r["grads"].items()})
    lrs = dict(adam=c["lr_adam"], adagrad=c["lr_adagrad"], sgd=c["lr_sgd"])
    for name, lr in lrs.items():
        final, losses, norms = ref.optimizer_steps(params, cfg, x, c["seed"], c["epoch"], c["batch_rows"],
                                                   c["beta"], name, lr, c["momentum"], c["clip"],
                                                   c["weight_decay"])
        if c["clip"] > 0:  # a norm near the threshold would make the clip branch fragile in float32
            print(f"    {name} grad norms {['%.4f' % n for n in norms]} vs clip {c['clip']}")
            assert all(abs(n / c["clip"] - 1) > 0.05 for n in norms)
        tensors.update({f"{name}/{k}": v for k, v in final.items()})
        tensors[f"{name}_losses"] = losses
    config = {k: c[k] for k in CONFIG_KEYS}
    config.update({k: c[k] for k in OPTIONAL_CONFIG_KEYS if k in c})
    return dict(case=c["case"], description=c["description"], config=config), tensors


def build_rng_case():
    philox = [dict(key=list(k), counter=list(ctr), output=list(out)) for k, ctr, out in KNOWN_ANSWERS]
    extra_counters = [  # one counter of each purpose, keyed by seeds small and large
        (1234, (5, 3, 0, c3_word(1, 0))),
        (1234, (0, 250, 2, c3_word(2, 0))),
        (77, (1, 1000, 7, c3_word(2, 2))),
        (BIG_SEED, (49, 0, 3, c3_word(3, 0))),
        (BIG_SEED, (0, 123456, 0, c3_word(4, 1))),
    ]
    for seed, ctr in extra_counters:
        key = seed_key(seed)
        philox.append(dict(key=list(key), counter=list(ctr),
                           output=[int(w) for w in philox4x32(key, ctr)]))
    shuffle = [dict(seed=s, epoch=e, rows=n, order=[int(i) for i in ref.epoch_order(s, e, n)])
               for s, e, n in [(1234, 0, 50), (BIG_SEED, 3, 7), (99, 1, 37)]]
    normals = [dict(seed=s, epoch=e, row=row, draw=l, latent=z,
                    values=[float(v) for v in ref.training_noise(s, e, [row], l + 1, z)[0, l]])
               for s, e, row, l, z in [(1234, 2, 17, 0, 3), (77, 0, 1000, 2, 9),
                                       (BIG_SEED, 5, 123456, 1, 4), (2026, 3, 4096, 0, 5)]]
    eval_normals = [dict(seed=s, row=row, draw=l, latent=z,
                         values=[float(v) for v in ref.eval_noise(s, [row], l + 1, z)[0, l]])
                    for s, row, l, z in [(1234, 17, 0, 5), (9, 3, 3, 6)]]
    init_u = [dict(seed=s, tensor=t, element=i, u=float(ref.init_uniforms(s, t, i + 1)[i]))
              for s, t, i in [(1234, 0, 0), (1234, 2, 5), (77, 3, 13), (BIG_SEED, 7, 6), (0, 0, 3)]]
    manifest = dict(case="rng",
                    description="Philox4x32-10 outputs (incl. Random123 known answers), epoch "
                                "shuffles, training-noise normals (float32), evaluation-noise "
                                "normals (purpose 4, no epoch), parameter-init uniforms. "
                                "No tensors.",
                    config={}, tensors={}, philox=philox, shuffle=shuffle, normals=normals,
                    eval_normals=eval_normals, init_uniforms=init_u)
    return manifest, {}


def build_block_shuffle_case():
    orders = [dict(seed=s, epoch=e, rows=n, block_rows=r, window_blocks=w,
                   order=[int(i) for i in block_epoch_order(s, e, n, r, w)])
              for s, e, n, r, w in [(1234, 0, 50, 7, 2), (BIG_SEED, 3, 100, 10, 1), (99, 1, 37, 5, 3),
                                    (7, 2, 64, 8, 100), (0, 0, 1, 1, 1)]]
    for entry in orders:
        assert sorted(entry["order"]) == list(range(entry["rows"]))
    manifest = dict(case="block_shuffle",
                    description="--shuffle blocks epoch orders (docs/algorithm.md, Epoch shuffle): blocks of "
                                "block_rows rows sorted by their purpose-5 key, windows of window_blocks blocks, "
                                "each window's rows sorted by their own key. No tensors.",
                    config={}, tensors={}, orders=orders)
    return manifest, {}


def build_train_small():
    c = dict(COMMON, data_dim=10, hidden=[6], latent=2, activation="relu", likelihood="bernoulli",
             estimator="B", samples=1, seed=99, epoch=0, init="pytorch", batch_rows=[],
             rows=37, global_batch=8, epochs=2, kl_warmup=0.5, last_batch="partial",
             optimizer="adam", lr=0.01)
    cfg = model_config(c)
    data = unit_uint8(np.random.default_rng(0).integers(0, 256, (c["rows"], c["data_dim"]), dtype=np.uint8))
    params = ref.init_params(cfg, c["seed"], c["init"])
    # Self-check on the run's first step (beta_t = 0.4 there, a non-trivial weight).
    first = ref.epoch_order(c["seed"], 0, c["rows"])[:c["global_batch"]]
    eps = ref.training_noise(c["seed"], 0, first, 1, cfg.latent)
    check("train_small", *ref.self_check(params, cfg, data[first], eps, 0.4))
    final, log = ref.train(data, cfg, params, seed=c["seed"], epochs=c["epochs"],
                           global_batch=c["global_batch"], beta=c["beta"], kl_warmup=c["kl_warmup"],
                           last_batch=c["last_batch"], optimizer=c["optimizer"], lr=c["lr"])
    assert [len(r[2]) for r in log] == [8, 8, 8, 8, 5] * 2
    assert np.allclose([r[3] for r in log], [min(1.0, t / 2.5) for t in range(1, 11)])
    tensors = dict(data=data)
    tensors.update({f"init/{k}": v for k, v in params.items()})
    tensors.update(step_loss=[r[4] for r in log], step_recon=[r[5] for r in log],
                   step_kl=[r[6] for r in log])
    tensors.update({f"final/{k}": v for k, v in final.items()})
    manifest = dict(case="train_small",
                    description="10 Adam steps (2 epochs x batches 8,8,8,8,5) on 37 rows, KL warm-up "
                                "0.5 epochs (beta_t = min(1, t/2.5)); step_* are batch means before "
                                "each update, step_kl unweighted, step_loss with beta_t.",
                    config=c, tensors={},
                    epoch_orders=[[int(i) for i in ref.epoch_order(c["seed"], e, c["rows"])]
                                  for e in range(c["epochs"])])
    return manifest, tensors


def write_case(manifest, tensors):
    blobs, at = [], 0
    for name, value in tensors.items():
        arr = np.asarray(value, dtype=np.float64).astype("<f4")
        manifest["tensors"][name] = dict(shape=list(arr.shape), offset=at, count=int(arr.size))
        blobs.append(arr.tobytes())
        at += arr.size
    d = os.path.join(OUT, manifest["case"])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "data.bin"), "wb") as f:
        f.write(b"".join(blobs))
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"  wrote {os.path.relpath(d, ROOT)} ({4 * at} bytes of tensors)")


def main():
    ref.check_known_answers()
    print("Philox4x32-10 known answers: OK")
    only = set(sys.argv[1:])
    built = [build_model_case(c, i) for i, c in enumerate(MODEL_CASES)]
    built += [build_rng_case(), build_block_shuffle_case(), build_train_small()]
    for manifest, tensors in built:  # only after every check has passed
        if only and manifest["case"] not in only:
            continue
        manifest.setdefault("tensors", {})
        write_case(manifest, tensors)


if __name__ == "__main__":
    main()
