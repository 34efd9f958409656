import pytest
import torch

from learners.models import EmaTeacher, LoraSettings, Policy
from tests.learners.models.conftest import CONVS

ITEMS = [(CONVS[0], [65, 66, 67, 68]), (CONVS[1], [70, 71])]


def fresh(**kw) -> Policy:
    return Policy.load("tiny-random", device="cpu", **kw)


def perturb(policy: Policy, amount: float) -> None:
    with torch.no_grad():
        for p in policy.trainable_parameters():
            p.add_(amount)


def test_update_arithmetic_by_hand():
    policy = fresh()
    teacher = EmaTeacher(policy, rate=0.25)
    names = [n for n, _ in policy.named_trainable_parameters()][:3]
    before = {n: teacher.weights[n].clone() for n in names}
    perturb(policy, 1.0)
    teacher.update()
    params = dict(policy.named_trainable_parameters())
    for n in names:
        expected = 0.75 * before[n].double() + 0.25 * params[n].detach().double()
        assert torch.allclose(teacher.weights[n].double(), expected, atol=1e-6)
        # the student moved by +1 everywhere, so the teacher moved by exactly +0.25
        assert torch.allclose(
            teacher.weights[n] - before[n], torch.full_like(before[n], 0.25), atol=1e-6
        )


def test_rate_zero_is_frozen_and_scores_like_the_initial_policy():
    policy = fresh()
    initial = [s.token_logprobs for s in policy.score(ITEMS)]
    teacher = EmaTeacher(policy, rate=0.0)
    perturb(policy, 0.05)
    teacher.update()
    moved = [s.token_logprobs for s in policy.score(ITEMS)]
    frozen = [s.token_logprobs for s in teacher.score(ITEMS)]
    for a, b, c in zip(initial, frozen, moved, strict=True):
        assert torch.allclose(a, b, atol=1e-6) and not torch.allclose(a, c, atol=1e-3)


def test_teacher_scores_equal_a_policy_holding_its_weights():
    policy, twin = fresh(), fresh()
    teacher = EmaTeacher(policy, rate=0.5)
    perturb(policy, 0.02)
    teacher.update()
    twin.load_state_dict(
        {
            **twin.state_dict(),
            **teacher.weights,
            "lm_head.weight": teacher.weights["model.embed_tokens.weight"],
        }
    )
    student_ids = [s.topk_ids for s in policy.score(ITEMS, top_k=4)]
    got = teacher.score(ITEMS, gather_ids=student_ids)
    want = twin.score(ITEMS, gather_ids=student_ids)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g.topk_logprobs, w.topk_logprobs, atol=1e-6)
        assert torch.allclose(g.tail_logprob, w.tail_logprob, atol=1e-6)


def test_teacher_scoring_keeps_the_student_graph_valid():
    policy = fresh()
    teacher = EmaTeacher(policy, rate=0.1)
    student = policy.score(ITEMS, top_k=3, grad=True)
    target = teacher.score(ITEMS, gather_ids=[s.topk_ids for s in student])
    loss = sum(
        (s.topk_logprobs - t.topk_logprobs).pow(2).sum()
        for s, t in zip(student, target, strict=True)
    )
    loss.backward()  # would raise if scoring the teacher had modified the parameters in place
    assert all(p.grad is not None for p in policy.trainable_parameters())
    with pytest.raises(ValueError, match="grad=False"):
        teacher.score(ITEMS, grad=True)


def test_lora_teacher_touches_adapter_weights_only():
    policy = fresh(lora=LoraSettings(r=4, alpha=8, target_modules=("q_proj", "v_proj")))
    trainable = dict(policy.named_trainable_parameters())
    assert trainable and all("lora_" in n for n in trainable)
    base = {n: p.detach().clone() for n, p in policy.model.named_parameters() if "lora_" not in n}
    teacher = EmaTeacher(policy, rate=0.5)
    assert set(teacher.weights) == set(trainable)
    perturb(policy, 0.1)
    teacher.update()
    for n, p in policy.model.named_parameters():
        if "lora_" not in n:
            assert torch.equal(p, base[n])
    scores = teacher.score(ITEMS, top_k=2)
    assert all(torch.isfinite(s.tail_logprob).all() for s in scores)
    assert set(policy.state_dict()) == set(trainable)


def test_state_dict_round_trip_for_resuming():
    policy = fresh()
    teacher = EmaTeacher(policy, rate=0.3)
    perturb(policy, 0.01)
    teacher.update()
    saved = {"rate": 0.3, "weights": {n: t.clone() for n, t in teacher.weights.items()}}
    resumed = EmaTeacher(fresh(), rate=0.3)
    resumed.load_state_dict(saved)
    for n in saved["weights"]:
        assert torch.equal(resumed.weights[n], teacher.weights[n])
    with pytest.raises(ValueError, match="does not match"):
        resumed.load_state_dict({"rate": 0.3, "weights": {}})
    with pytest.raises(ValueError, match="rate"):
        EmaTeacher(policy, rate=1.5)
