"""FSDP (FSDP2's ``fully_shard``) with the gloo backend on CPUs: one learner step taken by two
processes on a sharded model, each on its share of the batch, equals the step of one process
on the whole batch; the state it checkpoints is whole, and loads back into shards."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.tensor import DTensor

import learners
from learners import base, data_parallel
from learners.models import Policy
from tests.learners.test_data_parallel import SETTINGS, batch, one_step, relative

NAMES = ("grpo", "sd")
WORLD = 2


def sharded_step(name: str) -> tuple[list[torch.Tensor], list[torch.Tensor], dict, dict]:
    """``one_step``'s learner, sharded: the whole gradients it stepped with, the whole
    parameters after the step, its metrics and its state (as checkpointed)."""
    torch.manual_seed(0)
    policy = Policy.load("tiny-random")
    learner = learners.make(name, policy, SETTINGS[name])
    learner.fully_shard()
    grads: list[torch.Tensor] = []
    learner.optimizer.register_step_pre_hook(
        lambda optimizer, *_: grads.extend(
            data_parallel.full(
                [p.grad for group in optimizer.param_groups for p in group["params"]]
            )
        )
    )
    policy.gather()
    result = learner.step(batch(policy, name))
    params = data_parallel.full([p.detach() for p in policy.trainable_parameters()])
    state = learner.state_dict()
    return grads, params, dict(result.metrics), state


def lopsided(n: int, of: int | None = None, at: int | None = None) -> range:
    """Rank 1's share of the episodes is the last one, rank 0's the rest: rank 1 has fewer
    micro-batches, and must pad to keep in lockstep with rank 0."""
    return range(n - 1) if data_parallel.rank() == 0 else range(n - 1, n)


def worker(rank: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    data_parallel.shard = lopsided
    padded: list[int] = []  # Padding micro-batches made
    init = base.Padding.__init__
    base.Padding.__init__ = lambda self, *args: (padded.append(1), init(self, *args))[1]
    try:
        for name in NAMES:
            padded.clear()
            grads, params, metrics, state = sharded_step(name)
            metrics["padded"] = data_parallel.sum_across([len(padded)])[0]
            # the state loads back into a fresh sharded learner and is checkpointed the same
            torch.manual_seed(1)
            again = learners.make(name, Policy.load("tiny-random"), SETTINGS[name])
            again.fully_shard()
            again.load_state_dict(state)
            reloaded = again.state_dict()
            if rank == 0:
                torch.save((grads, params, metrics, state, reloaded), Path(out) / f"{name}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """Each learner's sharded step taken by two gloo processes (one spawn for all)."""
    out = tmp_path_factory.mktemp("fsdp")
    mp.spawn(worker, args=(str(out / "init"), str(out)), nprocs=WORLD, join=True)
    return out


def tensors(state: dict) -> list[torch.Tensor]:
    """Every tensor of a learner state (policy, optimiser moments, teacher), in key order."""
    out = list(state["policy"].values())
    for per_param in state["optimizer"]["state"].values():
        out += [v for k, v in sorted(per_param.items()) if k != "step"]
    for key in ("teacher", "reference"):
        if key in state:
            out += list(state[key]["weights"].values())
    return out


@pytest.mark.parametrize("name", NAMES)
def test_two_sharded_processes_take_the_step_of_one(two_ranks, name):
    torch.set_num_threads(1)
    grads, params, metrics = one_step(name)
    got_grads, got_params, got_metrics, _, _ = torch.load(two_ranks / f"{name}.pt")
    assert got_metrics["padded"] > 0  # rank 1, with fewer micro-batches, kept in lockstep
    assert len(got_grads) == len(grads) > 0 and any(g.abs().sum() > 0 for g in grads)
    for a, b in zip(got_grads, grads, strict=True):
        assert relative([a], [b]) <= 1e-5
    assert relative(got_params, params) <= 1e-5  # over the model (see test_data_parallel)
    for key in ("loss", "loss_tokens", "grad_norm", "loss_samples"):
        assert got_metrics[key] == pytest.approx(metrics[key], rel=1e-5), key


@pytest.mark.parametrize("name", NAMES)
def test_the_checkpointed_state_is_whole_and_loads_back(two_ranks, name):
    _, params, _, state, reloaded = torch.load(two_ranks / f"{name}.pt")
    weights = [state["policy"][n] for n, _ in Policy.load("tiny-random").model.named_parameters()]
    assert not any(isinstance(t, DTensor) for t in tensors(state))
    assert relative(weights, params) == 0.0  # the whole weights, not a shard
    assert state["optimizer"]["state"]  # Adam's moments, whole
    for a, b in zip(tensors(reloaded), tensors(state), strict=True):
        assert torch.equal(a, b)
