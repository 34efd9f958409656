"""Data parallelism with the gloo backend: one learner step taken by two processes, each on its
share of the batch, equals the step of one process on the whole batch."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import envs
import learners
from learners import data_parallel
from learners.models import Policy, SamplingParams
from learners.rollout import play_groups

SETTINGS = {
    "grpo": {"group_size": 2, "lr": 1e-3, "warmup_steps": 0, "micro_batch": 2},
    "sd": {"rollouts": 2, "lr": 1e-3, "warmup_steps": 0, "micro_batch": 2, "top_k": 8},
    "resd": {
        "lr": 1e-3,
        "warmup_steps": 0,
        "micro_batch": 2,
        "top_k": 8,
        "reflection": {"max_new_tokens_reflect": 8, "max_new_tokens_curate": 8},
    },
}
WORLD = 2


def batch(policy: Policy, name: str) -> list:
    """A batch of real episodes (5 tasks, so the ranks' shares differ in size), the first
    episode of every other group marked a success: GRPO has advantages, SD a peer solution,
    RESD (one episode a group) failures to reflect on."""
    rollouts = learners.learner_class(name).rollouts_for(
        learners.default_config(name, SETTINGS[name])
    )
    groups, _ = play_groups(
        policy,
        lambda: envs.make("secret"),
        [0, 1, 2, 3, 4],
        rollouts,
        SamplingParams(max_new_tokens=6),
        sample_seed=0,
    )
    for group in groups[::2]:
        group[0].success, group[0].reward = True, 1.0
    return groups


def one_step(name: str) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, float]]:
    """A fresh learner's step on the batch: the gradients it stepped with (after the ranks'
    sum and clipping), the parameters after it, and its metrics."""
    torch.manual_seed(0)
    policy = Policy.load("tiny-random")
    learner = learners.make(name, policy, SETTINGS[name])
    grads: list[torch.Tensor] = []
    learner.optimizer.register_step_pre_hook(
        lambda optimizer, *_: grads.extend(
            p.grad.clone() for group in optimizer.param_groups for p in group["params"]
        )
    )
    result = learner.step(batch(policy, name))
    params = [p.detach().clone() for p in policy.trainable_parameters()]
    return grads, params, dict(result.metrics)


def relative(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """||a - b|| / ||b||, over all the tensors as one vector."""
    diff = torch.cat([(x - y).reshape(-1) for x, y in zip(a, b, strict=True)])
    return float(torch.linalg.norm(diff) / torch.linalg.norm(torch.cat([y.reshape(-1) for y in b])))


def worker(rank: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        for name in SETTINGS:
            step = one_step(name)
            if rank == 0:
                torch.save(step, Path(out) / f"{name}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """Each learner's step taken by two gloo processes (one spawn for all: start-up is most
    of the cost); rank 0's parameters and metrics, by learner name."""
    out = tmp_path_factory.mktemp("dp")
    mp.spawn(worker, args=(str(out / "init"), str(out)), nprocs=WORLD, join=True)
    return out


@pytest.mark.parametrize("name", list(SETTINGS))
def test_two_processes_take_the_step_of_one(two_ranks, name):
    torch.set_num_threads(1)
    grads, params, metrics = one_step(name)
    got_grads, got_params, got_metrics = torch.load(two_ranks / f"{name}.pt")
    assert len(got_grads) == len(grads) > 0 and any(g.abs().sum() > 0 for g in grads)
    for a, b in zip(got_grads, grads, strict=True):  # each tensor's gradient
        assert relative([a], [b]) <= 1e-6
    # the parameters, 1e-6 relative over the model (not element by element: Adam's first step
    # divides each gradient by its own size, so a rounding difference in a gradient near zero,
    # the shares summed in another order, moves that element by up to ~1% of the step)
    assert relative(got_params, params) <= 1e-6
    for key in ("loss", "loss_tokens", "grad_norm", "loss_samples"):
        assert got_metrics[key] == pytest.approx(metrics[key], rel=1e-6), key


def test_shares_cover_the_batch_in_order():
    for n in range(7):
        shares = [data_parallel.shard(n, of=3, at=r) for r in range(3)]
        assert [i for s in shares for i in s] == list(range(n))
        assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_alone_every_collective_is_the_identity():
    assert not data_parallel.active() and data_parallel.world_size() == 1
    assert data_parallel.shard(5) == range(5)
    assert data_parallel.all_gather_objects("x") == ["x"]
    assert data_parallel.from_main(lambda: 3) == 3
    assert data_parallel.sum_across([1.0, 2.0]) == [1.0, 2.0]
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.full((2,), 0.5)
    grad = copy.deepcopy(p.grad)
    data_parallel.sum_gradients([p])
    assert torch.equal(p.grad, grad)
