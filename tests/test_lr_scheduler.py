"""Learning-rate schedulers: against PyTorch's sequences, hand-computed closed
forms, state_dict round trips, argument checks and the step-order warning."""

import math
import pickle
import warnings

import numpy as np
import pytest

from tinygrad_kr.optim import lr_scheduler as sched


# ----------------------------------------------------------------------------- optimizers

def make_tkr_optimizer(kind, lrs, **kwargs):
    """A tinygrad_kr optimizer with one param group per lr."""
    import tinygrad_kr
    from tinygrad_kr import optim

    groups = [{"params": [tinygrad_kr.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(optim, kind)(groups, lr=lrs[0], **kwargs)


def make_torch_optimizer(kind, lrs, **kwargs):
    torch = pytest.importorskip("torch")
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(torch.optim, kind)(groups, lr=lrs[0], **kwargs)


OPT_KWARGS = {"SGD": {"momentum": 0.9}, "Adam": {"betas": (0.9, 0.999)}}


def momentum_of(group):
    if "betas" in group:
        return float(group["betas"][0])
    return float(group.get("momentum", 0.0))


def run(scheduler, optimizer, n_steps, hook=None):
    """get_last_lr(), group lrs and momenta after construction and after each step."""
    record = []

    def snapshot():
        record.append((list(scheduler.get_last_lr()),
                       [float(g["lr"]) for g in optimizer.param_groups],
                       [momentum_of(g) for g in optimizer.param_groups]))

    snapshot()
    for i in range(n_steps):
        optimizer.step()
        scheduler.step()
        snapshot()
        if hook is not None:
            hook(i, optimizer)
    return record


def assert_same_sequence(ours, ref):
    assert len(ours) == len(ref)
    for step, (a, b) in enumerate(zip(ours, ref)):
        for got, want in zip(a, b):
            assert len(got) == len(want), step
            for x, y in zip(got, want):
                assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15), (step, a, b)


def halve_lrs_now_and_then(i, optimizer):
    """An external lr change (e.g. a user's manual decay) at a few steps."""
    if i in (6, 17, 31):
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * 0.5


# ----------------------------------------------------------------------------- configurations
# name -> (factory(module, optimizer), optimizer kind, group lrs, steps)

CONFIGS = {
    "LambdaLR-exp": (lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e), "SGD", [0.1], 50),
    "LambdaLR-per-group": (lambda m, o: m.LambdaLR(o, [lambda e: e // 10 + 1, lambda e: 1 / (e + 1)]),
                           "SGD", [0.1, 0.02], 40),
    "MultiplicativeLR": (lambda m, o: m.MultiplicativeLR(o, lambda e: 0.97), "SGD", [0.1, 0.3], 60),
    "MultiplicativeLR-per-group": (lambda m, o: m.MultiplicativeLR(
        o, [lambda e: 0.9, lambda e: 1 - 0.01 * (e % 3)]), "SGD", [0.1, 0.3], 40),
    "StepLR": (lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), "SGD", [0.1], 60),
    "StepLR-3-groups": (lambda m, o: m.StepLR(o, 3), "SGD", [0.1, 0.01, 1.0], 30),
    "MultiStepLR": (lambda m, o: m.MultiStepLR(o, [5, 12, 12, 30], gamma=0.3), "SGD", [0.1, 0.05], 40),
    "MultiStepLR-unsorted": (lambda m, o: m.MultiStepLR(o, [20, 4]), "SGD", [0.1], 30),
    "ConstantLR": (lambda m, o: m.ConstantLR(o), "SGD", [0.1, 0.05], 30),
    "ConstantLR-half": (lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=10), "SGD", [0.1], 30),
    "LinearLR": (lambda m, o: m.LinearLR(o), "SGD", [0.1, 0.05], 30),
    "LinearLR-decay": (lambda m, o: m.LinearLR(o, 1.0, 0.1, total_iters=20), "SGD", [0.1], 40),
    "LinearLR-partial": (lambda m, o: m.LinearLR(o, 0.25, 0.75, total_iters=7), "SGD", [0.1, 1.0], 30),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, 0.9), "SGD", [0.1, 0.5], 60),
    "PolynomialLR": (lambda m, o: m.PolynomialLR(o), "SGD", [0.1], 30),
    "PolynomialLR-square": (lambda m, o: m.PolynomialLR(o, total_iters=40, power=2.0), "SGD", [0.1, 0.2], 50),
    "PolynomialLR-sqrt": (lambda m, o: m.PolynomialLR(o, total_iters=15, power=0.5), "SGD", [0.1], 30),
    "CosineAnnealingLR": (lambda m, o: m.CosineAnnealingLR(o, T_max=10), "SGD", [0.1, 0.01], 60),
    "CosineAnnealingLR-eta": (lambda m, o: m.CosineAnnealingLR(o, 7, eta_min=0.001), "SGD", [0.1], 60),
    "CosineAnnealingLR-long": (lambda m, o: m.CosineAnnealingLR(o, 25, eta_min=0.01), "SGD", [0.1, 0.5], 100),
    "CAWR": (lambda m, o: m.CosineAnnealingWarmRestarts(o, 10), "SGD", [0.1], 60),
    "CAWR-mult2": (lambda m, o: m.CosineAnnealingWarmRestarts(o, 5, T_mult=2, eta_min=1e-3),
                   "SGD", [0.1, 0.01], 80),
    "CAWR-mult3": (lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, T_mult=3), "SGD", [0.1], 50),
    "CyclicLR-triangular": (lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5), "SGD", [0.1], 60),
    "CyclicLR-triangular2": (lambda m, o: m.CyclicLR(o, [0.01, 0.001], [0.1, 0.05], step_size_up=4,
                                                     step_size_down=6, mode="triangular2"),
                             "SGD", [0.1, 0.1], 70),
    "CyclicLR-exp_range": (lambda m, o: m.CyclicLR(o, 0.001, 0.1, step_size_up=3, mode="exp_range",
                                                   gamma=0.95, base_momentum=0.7, max_momentum=0.95),
                           "SGD", [0.1], 60),
    "CyclicLR-scale_fn-cycle": (lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4,
                                                        scale_fn=lambda x: 0.5 * (1 + math.sin(x))),
                                "SGD", [0.1], 50),
    "CyclicLR-scale_fn-iterations": (lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4,
                                                             scale_fn=lambda x: 1 / (1 + 0.05 * x),
                                                             scale_mode="iterations"),
                                     "SGD", [0.1], 50),
    "CyclicLR-no-momentum": (lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5, cycle_momentum=False),
                             "SGD", [0.1], 40),
    "CyclicLR-betas": (lambda m, o: m.CyclicLR(o, 0.001, 0.01, step_size_up=6), "Adam", [0.01, 0.02], 40),
    "OneCycleLR": (lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=50), "SGD", [0.1], 50),
    "OneCycleLR-linear": (lambda m, o: m.OneCycleLR(o, [0.1, 0.5], total_steps=40, anneal_strategy="linear"),
                          "SGD", [0.1, 0.1], 40),
    "OneCycleLR-three-phase": (lambda m, o: m.OneCycleLR(o, 0.1, total_steps=60, three_phase=True,
                                                         div_factor=10.0, final_div_factor=100.0),
                               "SGD", [0.1], 60),
    "OneCycleLR-epochs": (lambda m, o: m.OneCycleLR(o, 0.2, epochs=6, steps_per_epoch=7, pct_start=0.5,
                                                    base_momentum=0.8, max_momentum=0.9),
                          "SGD", [0.1], 42),
    "OneCycleLR-betas": (lambda m, o: m.OneCycleLR(o, 0.01, total_steps=30), "Adam", [0.001], 30),
    "OneCycleLR-no-momentum": (lambda m, o: m.OneCycleLR(o, 0.1, total_steps=35, cycle_momentum=False,
                                                         three_phase=True, anneal_strategy="linear"),
                               "SGD", [0.1], 35),
    "SequentialLR-warmup-exp": (lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.1, total_iters=5), m.ExponentialLR(o, 0.9)], milestones=[5]),
        "SGD", [0.1, 0.05], 40),
    "SequentialLR-three": (lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, 0.2, total_iters=10), m.StepLR(o, 4, 0.5), m.CosineAnnealingLR(o, 12)],
        milestones=[4, 20]), "SGD", [0.1], 50),
    "SequentialLR-lambdas": (lambda m, o: m.SequentialLR(
        o, [m.LambdaLR(o, lambda e: (e + 1) / 6), m.MultiplicativeLR(o, lambda e: 0.9)], milestones=[6]),
        "SGD", [0.1], 30),
    "ChainedScheduler": (lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, 0.1, total_iters=2), m.ExponentialLR(o, 0.9)]), "SGD", [1.0, 0.1], 30),
    "ChainedScheduler-three": (lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, 0.5, total_iters=6), m.StepLR(o, 5, 0.5), m.CosineAnnealingLR(o, 20, 0.001)],
        optimizer=o), "SGD", [0.1], 50),
}


def build(name, module, make_optimizer):
    factory, kind, lrs, n_steps = CONFIGS[name]
    optimizer = make_optimizer(kind, lrs, **OPT_KWARGS[kind])
    return factory(module, optimizer), optimizer, n_steps


# ----------------------------------------------------------------------------- against PyTorch

@pytest.mark.parametrize("external_change", [False, True], ids=["plain", "lr-changed-outside"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_sequence_matches_torch(name, external_change):
    torch = pytest.importorskip("torch")
    hook = halve_lrs_now_and_then if external_change else None
    ours, opt, n = build(name, sched, make_tkr_optimizer)
    ref, ref_opt, _ = build(name, torch.optim.lr_scheduler, make_torch_optimizer)
    assert_same_sequence(run(ours, opt, n, hook), run(ref, ref_opt, n, hook))


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_fractional_epochs_match_torch(T_mult):
    torch = pytest.importorskip("torch")
    sequences = []
    for module, make in ((sched, make_tkr_optimizer), (torch.optim.lr_scheduler, make_torch_optimizer)):
        opt = make("SGD", [0.1, 0.03])
        s = module.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=T_mult, eta_min=0.001)
        lrs, iters = [], 7
        for epoch in range(25):
            for i in range(iters):
                opt.step()
                s.step(epoch + i / iters)
                lrs.append((list(s.get_last_lr()), [s.T_cur, s.T_i, s.last_epoch]))
        for _ in range(5):  # step() after step(epoch) continues from there
            s.step()
            lrs.append((list(s.get_last_lr()), [s.T_cur, s.T_i, s.last_epoch]))
        s.step(3)  # and jumping backwards restarts the bookkeeping
        s.step()
        lrs.append((list(s.get_last_lr()), [s.T_cur, s.T_i, s.last_epoch]))
        sequences.append(lrs)
    assert_same_sequence(*sequences)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ConstantLR-half", "LinearLR-decay",
                                  "ExponentialLR", "PolynomialLR-square", "CosineAnnealingLR-eta"])
def test_deprecated_step_epoch_uses_closed_form_like_torch(name):
    torch = pytest.importorskip("torch")
    sequences = []
    for module, make in ((sched, make_tkr_optimizer), (torch.optim.lr_scheduler, make_torch_optimizer)):
        s, opt, _ = build(name, module, make)
        lrs = []
        for epoch in (3, 9, 2, 25, 14):
            opt.step()
            with pytest.warns(UserWarning, match="deprecated"):
                s.step(epoch)
            s.step()
            lrs.append((list(s.get_last_lr()),))
        sequences.append(lrs)
    assert_same_sequence(*sequences)


def metric_sequence(n=70, seed=0):
    """A loss that improves in bursts, plateaus, and has noise near the thresholds."""
    rng = np.random.default_rng(seed)
    level, values = 1.0, []
    for t in range(n):
        if t % 9 in (0, 1):
            level *= 0.9
        values.append(float(level * (1 + rng.choice([0.0, 2e-5, -2e-5, 1e-3, -5e-4]))))
    return values


PLATEAU_OPTIONS = [
    dict(mode=mode, threshold_mode=tm, patience=patience, cooldown=cooldown)
    for mode in ("min", "max") for tm in ("rel", "abs") for patience in (0, 2) for cooldown in (0, 3)
] + [
    dict(factor=0.5, patience=1, min_lr=0.004),
    dict(factor=0.5, patience=1, min_lr=[0.02, 0.001, 0.0]),
    dict(factor=0.3, patience=0, threshold=1e-2),
    dict(factor=0.3, patience=0, threshold=0.05, threshold_mode="abs", mode="max"),
    dict(factor=0.9, patience=0, eps=0.004),
    dict(factor=0.0, patience=3, cooldown=1, min_lr=[1e-3, 1e-4, 1e-5]),
]


@pytest.mark.parametrize("options", PLATEAU_OPTIONS, ids=str)
def test_reduce_on_plateau_matches_torch(options):
    torch = pytest.importorskip("torch")
    metrics = metric_sequence()
    if options.get("mode") == "max":
        metrics = [2.0 - m for m in metrics]
    records = []
    for module, make in ((sched, make_tkr_optimizer), (torch.optim.lr_scheduler, make_torch_optimizer)):
        opt = make("SGD", [0.1, 0.05, 0.01])
        s = module.ReduceLROnPlateau(opt, **options)
        lrs = [(list(s.get_last_lr()), [s.num_bad_epochs, s.cooldown_counter, s.best])]
        for metric in metrics:
            opt.step()
            s.step(metric)
            lrs.append((list(s.get_last_lr()), [s.num_bad_epochs, s.cooldown_counter, s.best]))
        records.append(lrs)
    assert_same_sequence(*records)
    assert records[0][-1][0] != records[0][0][0], "the sequence should reduce the lr at least once"


# ----------------------------------------------------------------------------- hand-computed

def closed_form_run(scheduler, optimizer, n_steps):
    return [lrs for lrs, _, _ in run(scheduler, optimizer, n_steps)]


def assert_lrs(got, want):
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(want, dtype=float),
                               rtol=1e-12, atol=1e-15)


def test_step_lr_halves_every_five_epochs():
    opt = make_tkr_optimizer("SGD", [1.0])
    got = closed_form_run(sched.StepLR(opt, step_size=5, gamma=0.5), opt, 14)
    assert got == [[1.0]] * 5 + [[0.5]] * 5 + [[0.25]] * 5
    assert opt.param_groups[0]["initial_lr"] == 1.0


def test_exponential_lr_closed_form_and_two_groups():
    opt = make_tkr_optimizer("SGD", [0.1, 0.02])
    got = closed_form_run(sched.ExponentialLR(opt, gamma=0.8), opt, 40)
    assert_lrs(got, [[0.1 * 0.8 ** t, 0.02 * 0.8 ** t] for t in range(41)])


def test_multistep_repeated_milestone_decays_twice():
    opt = make_tkr_optimizer("SGD", [1.0])
    got = closed_form_run(sched.MultiStepLR(opt, [2, 4, 4], gamma=0.1), opt, 6)
    assert_lrs(got, [[1.0], [1.0], [0.1], [0.1], [0.001], [0.001], [0.001]])


def test_constant_and_linear_warmup_closed_forms():
    opt = make_tkr_optimizer("SGD", [0.3])
    assert_lrs(closed_form_run(sched.ConstantLR(opt, factor=0.5, total_iters=3), opt, 5),
               [[0.15]] * 3 + [[0.3]] * 3)
    opt = make_tkr_optimizer("SGD", [0.3])
    assert_lrs(closed_form_run(sched.LinearLR(opt, 0.2, 1.0, total_iters=4), opt, 6),
               [[0.3 * (0.2 + 0.8 * min(t, 4) / 4)] for t in range(7)])


def test_constant_lr_factor_zero_restores_base_lr():
    opt = make_tkr_optimizer("SGD", [0.3])
    assert_lrs(closed_form_run(sched.ConstantLR(opt, factor=0.0, total_iters=2), opt, 3),
               [[0.0], [0.0], [0.3], [0.3]])


def test_polynomial_and_cosine_closed_forms():
    opt = make_tkr_optimizer("SGD", [0.1])
    assert_lrs(closed_form_run(sched.PolynomialLR(opt, total_iters=10, power=2.0), opt, 15),
               [[0.1 * (1 - min(t, 10) / 10) ** 2] for t in range(16)])
    opt = make_tkr_optimizer("SGD", [0.1, 0.4])
    eta_min = 0.01
    got = closed_form_run(sched.CosineAnnealingLR(opt, T_max=8, eta_min=eta_min), opt, 40)
    want = [[eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / 8)) / 2 for base in (0.1, 0.4)]
            for t in range(41)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_lambda_and_multiplicative():
    opt = make_tkr_optimizer("SGD", [0.5, 1.0])
    got = closed_form_run(sched.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: e]), opt, 4)
    assert_lrs(got, [[0.5 / (t + 1), 1.0 * t] for t in range(5)])
    opt = make_tkr_optimizer("SGD", [1.0])
    got = closed_form_run(sched.MultiplicativeLR(opt, lambda e: 0.5 if e % 2 else 1.0), opt, 5)
    assert_lrs(got, [[1.0], [0.5], [0.5], [0.25], [0.25], [0.125]])


def test_warm_restarts_closed_form_fractional_epochs():
    opt = make_tkr_optimizer("SGD", [0.1])
    s = sched.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2, eta_min=0.001)

    def cosine(t_cur, t_i):
        return 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    for epoch, t_cur, t_i in [(2.5, 2.5, 10), (9.75, 9.75, 10), (10.0, 0.0, 20), (17.5, 7.5, 20),
                              (31.0, 1.0, 40), (0.25, 0.25, 10)]:
        opt.step()
        s.step(epoch)
        assert math.isclose(s.get_last_lr()[0], cosine(t_cur, t_i), rel_tol=1e-12)
        assert s.last_epoch == math.floor(epoch)


def test_cyclic_triangular_by_hand():
    opt = make_tkr_optimizer("SGD", [0.5], momentum=0.9)
    s = sched.CyclicLR(opt, base_lr=1.0, max_lr=5.0, step_size_up=4, base_momentum=0.8, max_momentum=0.9)
    got = [lrs[0] for lrs, _, _ in run(s, opt, 12)]
    assert_lrs(got, [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4, 5])
    assert math.isclose(opt.param_groups[0]["momentum"], 0.8)  # lowest at the lr peak


def test_cyclic_triangular2_halves_amplitude_each_cycle():
    opt = make_tkr_optimizer("SGD", [0.5], momentum=0.9)
    s = sched.CyclicLR(opt, 0.0, 8.0, step_size_up=2, mode="triangular2", cycle_momentum=False)
    got = [lrs[0] for lrs, _, _ in run(s, opt, 12)]
    assert_lrs(got, [0, 4, 8, 4, 0, 2, 4, 2, 0, 1, 2, 1, 0])


def test_one_cycle_endpoints_and_limit():
    opt = make_tkr_optimizer("SGD", [0.5], momentum=0.9)
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.5, anneal_strategy="linear",
                         div_factor=4.0, final_div_factor=5.0)
    records = run(s, opt, 10)
    lrs = [r[0][0] for r in records]
    momenta = [r[2][0] for r in records]
    # warm-up over steps 0..4.5 (pct_start * total_steps - 1), then down to 0.25 / 5 at step 10
    assert_lrs(lrs[:5], [0.25 + 0.75 * t / 4.5 for t in range(5)])
    assert_lrs(lrs[-1], 0.05)
    assert math.isclose(momenta[0], 0.95) and math.isclose(momenta[-1], 0.95)
    assert min(momenta) >= 0.85 - 1e-12
    assert opt.param_groups[0]["initial_lr"] == 0.25 and opt.param_groups[0]["min_lr"] == 0.05
    opt.step()
    s.step()  # step 11 == total_steps is still allowed, as in PyTorch
    with pytest.raises(ValueError, match="Tried to step 12 times"):
        s.step()


def test_one_cycle_cos_rises_then_falls():
    opt = make_tkr_optimizer("Adam", [0.001])
    s = sched.OneCycleLR(opt, max_lr=0.01, total_steps=101, pct_start=0.3)  # peak at step 29.3
    lrs = [r[0][0] for r in run(s, opt, 100)]
    assert all(a < b for a, b in zip(lrs[:30], lrs[1:31]))
    assert all(a > b for a, b in zip(lrs[30:], lrs[31:]))
    assert math.isclose(lrs[30], 0.01, rel_tol=1e-3)
    assert math.isclose(lrs[0], 0.01 / 25) and math.isclose(lrs[-1], 0.01 / 25 / 1e4)
    assert opt.param_groups[0]["betas"][1] == 0.999  # only beta1 cycles


def test_sequential_and_chained_by_hand():
    opt = make_tkr_optimizer("SGD", [1.0])
    s = sched.SequentialLR(opt, [sched.ConstantLR(opt, 0.1, total_iters=10), sched.ExponentialLR(opt, 0.5)],
                           milestones=[3])
    assert_lrs(closed_form_run(s, opt, 6), [[0.1]] * 3 + [[1.0], [0.5], [0.25], [0.125]])
    opt = make_tkr_optimizer("SGD", [1.0])
    s = sched.ChainedScheduler([sched.StepLR(opt, 2, 0.5), sched.ExponentialLR(opt, 0.9)])
    assert_lrs(closed_form_run(s, opt, 6), [[0.5 ** (t // 2) * 0.9 ** t] for t in range(7)])


def test_reduce_on_plateau_by_hand():
    opt = make_tkr_optimizer("SGD", [1.0, 0.1])
    s = sched.ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=[0.0, 0.04])
    got = []
    for metric in [5, 4, 4, 4, 4, 4, 4, 4, 3, 3]:
        opt.step()
        s.step(metric)
        got.append(s.get_last_lr())
    assert_lrs(got, [[1, .1], [1, .1], [1, .1], [1, .1], [.5, .05], [.5, .05], [.5, .05], [.25, .04],
                     [.25, .04], [.25, .04]])


def test_reduce_on_plateau_accepts_a_tensor_metric():
    import tinygrad_kr
    opt = make_tkr_optimizer("SGD", [1.0])
    s = sched.ReduceLROnPlateau(opt, patience=0)
    s.step(tinygrad_kr.tensor(1.0))
    s.step(tinygrad_kr.tensor(2.0))
    assert_lrs(s.get_last_lr(), [0.1])


def test_external_change_carries_through_chainable_but_not_closed_form():
    opt = make_tkr_optimizer("SGD", [1.0])
    s = sched.ExponentialLR(opt, 0.5)
    opt.param_groups[0]["lr"] = 10.0
    opt.step()
    s.step()
    assert s.get_last_lr() == [5.0]
    opt = make_tkr_optimizer("SGD", [1.0])
    s = sched.LambdaLR(opt, lambda e: 0.5 ** e)
    opt.param_groups[0]["lr"] = 10.0
    opt.step()
    s.step()
    assert s.get_last_lr() == [0.5]


# ----------------------------------------------------------------------------- state_dict

@pytest.mark.parametrize("name", list(CONFIGS))
def test_state_dict_round_trip_resumes_identical_sequence(name):
    full, opt, n = build(name, sched, make_tkr_optimizer)
    expected = run(full, opt, n)

    first, opt_a, _ = build(name, sched, make_tkr_optimizer)
    k = n // 2
    head = run(first, opt_a, k)
    state = pickle.loads(pickle.dumps(first.state_dict()))  # plain data, no optimizer, no lambdas
    assert "optimizer" not in state
    opt_state = pickle.loads(pickle.dumps(opt_a.state_dict()))

    # PyTorch's checkpoint order: build both, then load the optimizer, then the scheduler.
    resumed, opt_b, _ = build(name, sched, make_tkr_optimizer)
    opt_b.load_state_dict(opt_state)
    resumed.load_state_dict(state)
    tail = run(resumed, opt_b, n - k)
    assert_same_sequence(head + tail[1:], expected)


def test_reduce_on_plateau_state_dict_round_trip():
    metrics = metric_sequence()
    options = dict(mode="max", factor=0.5, patience=1, cooldown=2, threshold_mode="abs", threshold=1e-3)
    opt = make_tkr_optimizer("SGD", [0.1, 0.01])
    s = sched.ReduceLROnPlateau(opt, **options)
    expected = []
    for m in metrics:
        s.step(-m)
        expected.append(s.get_last_lr())

    opt_a = make_tkr_optimizer("SGD", [0.1, 0.01])
    a = sched.ReduceLROnPlateau(opt_a, **options)
    for m in metrics[:30]:
        a.step(-m)
    state = pickle.loads(pickle.dumps(a.state_dict()))
    opt_b = make_tkr_optimizer("SGD", [0.1, 0.01])
    b = sched.ReduceLROnPlateau(opt_b)  # defaults: everything comes from the state
    opt_b.load_state_dict(opt_a.state_dict())
    b.load_state_dict(state)
    got = expected[:30]
    for m in metrics[30:]:
        b.step(-m)
        got.append(b.get_last_lr())
    assert got == expected


def test_state_dict_saves_callable_objects_but_not_lambdas():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = make_tkr_optimizer("SGD", [1.0, 1.0])
    s = sched.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    state = s.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    opt2 = make_tkr_optimizer("SGD", [1.0, 1.0])
    s2 = sched.LambdaLR(opt2, [Decay(0.9), lambda e: 1.0])
    s2.load_state_dict(state)
    assert s2.lr_lambdas[0].rate == 0.5
    assert "lr_lambdas" in state  # load_state_dict leaves its argument intact


def test_state_dict_is_a_copy():
    opt = make_tkr_optimizer("SGD", [1.0])
    s = sched.MultiStepLR(opt, [2, 3])
    state = s.state_dict()
    state["milestones"][7] = 1
    state["base_lrs"][0] = 5.0
    assert 7 not in s.milestones and s.base_lrs == [1.0]


# ----------------------------------------------------------------------------- usage and errors

def test_warning_free_in_pytorch_order():
    opt = make_tkr_optimizer("SGD", [0.1], momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for s in (sched.StepLR(opt, 2), sched.OneCycleLR(opt, 0.1, total_steps=10),
                  sched.CyclicLR(opt, 0.01, 0.1, step_size_up=2), sched.CosineAnnealingWarmRestarts(opt, 3)):
            for _ in range(5):
                opt.step()
                s.step()
            s.get_last_lr()


def test_warns_when_scheduler_steps_first():
    opt = make_tkr_optimizer("SGD", [0.1])
    s = sched.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()


def test_calling_get_lr_directly_warns():
    opt = make_tkr_optimizer("SGD", [0.1])
    s = sched.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()


def test_resume_needs_initial_lr():
    opt = make_tkr_optimizer("SGD", [0.1])
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(opt, 2, last_epoch=4)


def test_resume_with_last_epoch_continues_the_schedule():
    opt = make_tkr_optimizer("SGD", [1.0])
    s = sched.ExponentialLR(opt, 0.5)
    for _ in range(3):
        opt.step()
        s.step()
    resumed = sched.ExponentialLR(opt, 0.5, last_epoch=s.last_epoch)
    assert resumed.get_last_lr() == [0.125]  # building it is not a step
    opt.step()
    resumed.step()
    assert resumed.get_last_lr() == [0.0625]


def _opt():
    return make_tkr_optimizer("SGD", [0.1, 0.01], momentum=0.9)


def _opt_without_momentum():
    opt = _opt()
    del opt.defaults["momentum"]
    return opt


BAD_ARGUMENTS = [
    (lambda: sched.StepLR(object(), 2), TypeError, "not an Optimizer"),
    (lambda: sched.StepLR(_opt(), 0), ValueError, "step_size"),
    (lambda: sched.StepLR(_opt(), 2, last_epoch=-2), ValueError, "last_epoch"),
    (lambda: sched.LambdaLR(_opt(), [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas"),
    (lambda: sched.MultiplicativeLR(_opt(), 0.9), TypeError, "function"),
    (lambda: sched.ConstantLR(_opt(), factor=1.5), ValueError, "between 0 and 1"),
    (lambda: sched.LinearLR(_opt(), start_factor=0.0), ValueError, "greater than 0"),
    (lambda: sched.LinearLR(_opt(), end_factor=2.0), ValueError, "between 0 and 1"),
    (lambda: sched.PolynomialLR(_opt(), total_iters=0), ValueError, "total_iters"),
    (lambda: sched.CosineAnnealingLR(_opt(), T_max=0), ValueError, "T_max"),
    (lambda: sched.CosineAnnealingWarmRestarts(_opt(), T_0=0), ValueError, "T_0"),
    (lambda: sched.CosineAnnealingWarmRestarts(_opt(), T_0=5, T_mult=0), ValueError, "T_mult"),
    (lambda: sched.CosineAnnealingWarmRestarts(_opt(), T_0=5, eta_min="0"), ValueError, "eta_min"),
    (lambda: sched.CyclicLR(_opt(), 0.01, 0.1, mode="sawtooth"), ValueError, "mode is invalid"),
    (lambda: sched.CyclicLR(_opt(), 0.01, 0.1, step_size_up=0), ValueError, "step_size_up"),
    (lambda: sched.CyclicLR(_opt(), [0.01], 0.1), ValueError, "base_lr must have the same length"),
    (lambda: sched.CyclicLR(_opt_without_momentum(), 0.01, 0.1), ValueError, "momentum or beta1"),
    (lambda: sched.OneCycleLR(_opt(), 0.1), ValueError, "total_steps OR"),
    (lambda: sched.OneCycleLR(_opt(), 0.1, total_steps=0), ValueError, "total_steps"),
    (lambda: sched.OneCycleLR(_opt(), 0.1, total_steps=10.0), ValueError, "total_steps"),
    (lambda: sched.OneCycleLR(_opt(), 0.1, epochs=0, steps_per_epoch=3), ValueError, "epochs"),
    (lambda: sched.OneCycleLR(_opt(), 0.1, epochs=2, steps_per_epoch=-1), ValueError, "steps_per_epoch"),
    (lambda: sched.OneCycleLR(_opt(), 0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    (lambda: sched.OneCycleLR(_opt(), 0.1, total_steps=10, anneal_strategy="exp"), ValueError, "anneal"),
    (lambda: sched.OneCycleLR(_opt(), [0.1], total_steps=10), ValueError, "max_lr must have the same"),
    (lambda: sched.OneCycleLR(_opt_without_momentum(), 0.1, total_steps=10), ValueError, "momentum"),
    (lambda: sched.ReduceLROnPlateau(_opt(), factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda: sched.ReduceLROnPlateau(_opt(), mode="lowest"), ValueError, "mode"),
    (lambda: sched.ReduceLROnPlateau(_opt(), threshold_mode="pct"), ValueError, "threshold mode"),
    (lambda: sched.ReduceLROnPlateau(_opt(), min_lr=[0.1]), ValueError, "expected 2 min_lrs"),
    (lambda: sched.ReduceLROnPlateau(_opt(), patience=-1), ValueError, "patience"),
    (lambda: sched.SequentialLR(_opt(), [], []), ValueError, "at least one"),
    (lambda: sched.ChainedScheduler([]), ValueError, "at least one"),
]


@pytest.mark.parametrize("make, error, match", BAD_ARGUMENTS, ids=[m for _, _, m in BAD_ARGUMENTS])
def test_bad_arguments_raise(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_combinators_reject_mismatched_children():
    opt, other = _opt(), _opt()
    with pytest.raises(ValueError, match="same optimizer"):
        sched.ChainedScheduler([sched.StepLR(opt, 2), sched.StepLR(other, 2)])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2), sched.ReduceLROnPlateau(opt)], milestones=[3])
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2), sched.StepLR(opt, 3)], milestones=[3, 5])
