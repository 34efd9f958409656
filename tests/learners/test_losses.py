"""Losses against independent float64 computations (plain Python / numpy loops)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from learners import losses

torch.manual_seed(0)


# ------------------------------------------------------------------------------------- GRPO
def test_group_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    mean, std = 0.5, math.sqrt(sum((x - 0.5) ** 2 for x in [1, 0, 0, 1]) / 3)
    expected = [(x - mean) / (std + 1e-6) for x in [1, 0, 0, 1]]
    assert np.allclose(losses.group_advantages(r).numpy(), expected)
    assert np.allclose(
        losses.group_advantages(r, scale_by_std=False).numpy(), [0.5, -0.5, -0.5, 0.5]
    )


def test_equal_rewards_give_no_gradient():
    r = torch.ones(8, dtype=torch.float64)
    adv = losses.group_advantages(r)
    assert torch.all(adv == 0)
    logp = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    loss = losses.aggregate(
        losses.clipped_surrogate(logp, logp.detach(), adv), torch.ones(8, 5), "grpo"
    )
    loss.backward()
    assert torch.all(logp.grad == 0)


def surrogate_reference(logp, old, adv, el, eh, ref, beta):
    out = np.zeros_like(logp)
    for b in range(logp.shape[0]):
        for t in range(logp.shape[1]):
            rho = math.exp(logp[b, t] - old[b, t])
            a = adv[b]
            clipped = min(max(rho, 1 - el), 1 + eh)
            val = -min(rho * a, clipped * a)
            d = ref[b, t] - logp[b, t]
            out[b, t] = val + beta * (math.exp(d) - d - 1)
    return out


def test_clipped_surrogate_with_asymmetric_clip_and_k3():
    logp = torch.randn(4, 6, dtype=torch.float64)
    old = logp + 0.5 * torch.randn(4, 6, dtype=torch.float64)
    ref = logp + 0.3 * torch.randn(4, 6, dtype=torch.float64)
    adv = torch.tensor([1.5, -0.7, 0.0, 2.0], dtype=torch.float64)
    got = losses.clipped_surrogate(
        logp, old, adv, eps_low=0.2, eps_high=0.28, ref_logp=ref, beta=0.05
    )
    want = surrogate_reference(logp.numpy(), old.numpy(), adv.numpy(), 0.2, 0.28, ref.numpy(), 0.05)
    assert np.allclose(got.numpy(), want, atol=1e-12)


def test_aggregations_by_hand():
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    assert losses.aggregate(loss, mask, "grpo").item() == pytest.approx((2.0 + 4.0) / 2)
    assert losses.aggregate(loss, mask, "dapo").item() == pytest.approx(10.0 / 4)
    assert losses.aggregate(loss, mask, "dr_grpo").item() == pytest.approx(10.0 / 6)
    assert losses.aggregate(loss, mask, "dr_grpo", max_len=10).item() == pytest.approx(10.0 / 20)
    with pytest.raises(ValueError, match="aggregation='sum'"):
        losses.aggregate(loss, mask, "sum")


# -------------------------------------------------------------------------- self-distillation
def kl_ref(p, q):
    return sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q, strict=True) if pi > 0)


def divergence_ref(s, t, alpha):
    """Float64 divergence between two probability lists, straight from docs/METHOD.md 3.3."""
    if alpha == 0:
        return kl_ref(t, s)
    if alpha == 1:
        return kl_ref(s, t)
    m = [(1 - alpha) * si + alpha * ti for si, ti in zip(s, t, strict=True)]
    return (1 - alpha) * kl_ref(s, m) + alpha * kl_ref(t, m)


def topk_tail_ref(full_logp_row, ids):
    p = [math.exp(full_logp_row[i]) for i in ids]
    return p + [max(1.0 - sum(p), 1e-12)]


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 1.0])
def test_sd_divergence_topk_plus_tail(alpha):
    vocab, k = 12, 4
    s_full = torch.log_softmax(torch.randn(3, vocab, dtype=torch.float64), -1)
    t_full = torch.log_softmax(torch.randn(3, vocab, dtype=torch.float64), -1)
    ids = torch.topk(s_full, k, dim=-1).indices
    got = losses.sd_token_loss(
        s_full.gather(-1, ids), t_full.gather(-1, ids), alpha=alpha, eps_min=None
    )
    for row in range(3):
        s = topk_tail_ref(s_full[row].tolist(), ids[row].tolist())
        t = topk_tail_ref(t_full[row].tolist(), ids[row].tolist())
        assert got[row].item() == pytest.approx(divergence_ref(s, t, alpha), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_full_vocabulary_topk_equals_full_divergence_and_gradient(alpha):
    vocab = 9
    logits = torch.randn(2, vocab, dtype=torch.float64, requires_grad=True)
    t_full = torch.log_softmax(torch.randn(2, vocab, dtype=torch.float64), -1)
    s_full = torch.log_softmax(logits, -1)
    ids = torch.topk(s_full, vocab, dim=-1).indices  # K = V: the tail is empty
    topk = losses.sd_token_loss(
        s_full.gather(-1, ids), t_full.gather(-1, ids), alpha=alpha, eps_min=None
    ).sum()
    (grad_topk,) = torch.autograd.grad(topk, logits)
    full = losses.sd_divergence(torch.log_softmax(logits, -1), t_full, alpha).sum()
    (grad_full,) = torch.autograd.grad(full, logits)
    reference = sum(
        divergence_ref(torch.exp(s_full[r]).tolist(), torch.exp(t_full[r]).tolist(), alpha)
        for r in range(2)
    )
    assert topk.item() == pytest.approx(reference, rel=1e-8)
    assert full.item() == pytest.approx(reference, rel=1e-10)
    assert torch.allclose(grad_topk, grad_full, atol=1e-7)


def test_reverse_kl_gradient_matches_finite_differences():
    logits = torch.randn(1, 6, dtype=torch.float64, requires_grad=True)
    t = torch.log_softmax(torch.randn(1, 6, dtype=torch.float64), -1)

    def value(lg):
        s = torch.log_softmax(lg, -1)
        return divergence_ref(torch.exp(s[0]).tolist(), torch.exp(t[0]).tolist(), 1.0)

    loss = losses.sd_divergence(torch.log_softmax(logits, -1), t, 1.0).sum()
    (grad,) = torch.autograd.grad(loss, logits)
    h = 1e-6
    for i in range(6):
        bump = torch.zeros_like(logits)
        bump[0, i] = h
        numeric = (value(logits + bump) - value(logits - bump)) / (2 * h)
        assert grad[0, i].item() == pytest.approx(numeric, abs=1e-6)


def test_teacher_floor_and_ceiling():
    s = [0.5, 0.3, 0.2]
    t = [0.01, 0.9, 0.09]
    s_l = torch.log(torch.tensor([s], dtype=torch.float64))
    t_l = torch.log(torch.tensor([t], dtype=torch.float64))
    floored = torch.exp(losses.clip_teacher(t_l, s_l, 0.2, None))[0].tolist()
    raw = [max(ti, 0.2 * si) for si, ti in zip(s, t, strict=True)]  # 0.1, 0.9, 0.09 -> renormalised
    assert floored == pytest.approx([r / sum(raw) for r in raw], rel=1e-12)
    capped = torch.exp(losses.clip_teacher(t_l, s_l, 0.2, 2.0))[0].tolist()
    raw = [min(max(ti, 0.2 * si), 2.0 * si) for si, ti in zip(s, t, strict=True)]  # 0.1, 0.6, 0.09
    assert capped == pytest.approx([r / sum(raw) for r in raw], rel=1e-12)


def test_importance_ratio_weight_is_clipped_and_detached():
    s = torch.log_softmax(torch.randn(4, 5, dtype=torch.float64), -1)
    t = torch.log_softmax(torch.randn(4, 5, dtype=torch.float64), -1)
    token = torch.tensor([-1.0, -2.0, -0.5, -3.0], dtype=torch.float64)
    rollout = torch.tensor([-1.0, -3.0, -0.4, -1.0], dtype=torch.float64)
    plain = losses.sd_token_loss(s[:, :3], t[:, :3], eps_min=None)
    weighted = losses.sd_token_loss(
        s[:, :3],
        t[:, :3],
        eps_min=None,
        student_token_logp=token,
        rollout_token_logp=rollout,
        ratio_clip=2.0,
    )
    ratios = [
        min(math.exp(a - b), 2.0) for a, b in zip(token.tolist(), rollout.tolist(), strict=True)
    ]
    assert weighted.tolist() == pytest.approx(
        [p * r for p, r in zip(plain.tolist(), ratios, strict=True)]
    )


def test_success_reweighting_by_hand():
    w = losses.success_reweighting(torch.tensor([1, 0, 0, 0]))
    # s = 0.25: success weight 0.75, failures 0.25; mean = 0.375
    assert w.tolist() == pytest.approx([2.0, 2 / 3, 2 / 3, 2 / 3])
    all_fail = losses.success_reweighting(torch.zeros(4))
    # s clamped to 1/4: every failure 0.25 -> normalised to 1
    assert all_fail.tolist() == pytest.approx([1.0] * 4)
    assert torch.isfinite(losses.success_reweighting(torch.ones(1))).all()


def test_no_nan_on_degenerate_inputs():
    one_hot = torch.full((2, 3), -1e9, dtype=torch.float64)
    one_hot[:, 0] = 0.0  # all mass on one token: the tail is empty
    out = losses.sd_token_loss(one_hot, one_hot, alpha=0.5)
    assert torch.isfinite(out).all() and torch.allclose(out, torch.zeros(2, dtype=torch.float64))
    empty_mask = torch.zeros(2, 3)
    assert losses.aggregate(torch.ones(2, 3), empty_mask, "grpo").item() == 0.0


@pytest.mark.parametrize("mode", ["grpo", "dapo", "dr_grpo"])
def test_sequence_weights_reproduce_aggregate(mode):
    lengths = [3, 1, 5, 2]
    loss = torch.randn(4, 5, dtype=torch.float64)
    mask = torch.zeros(4, 5, dtype=torch.float64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1.0
    weights = losses.sequence_weights(lengths, mode, max_len=5)
    by_weights = sum(
        w * loss[i, :n].sum().item() for i, (w, n) in enumerate(zip(weights, lengths, strict=True))
    )
    assert by_weights == pytest.approx(
        losses.aggregate(loss, mask, mode, max_len=5).item(), rel=1e-12
    )
