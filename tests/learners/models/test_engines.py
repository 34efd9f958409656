"""The engine contract: the registry, and how Policy uses an engine's generate, scoring, sync."""

from __future__ import annotations

import pytest
import torch

from learners.models import (
    Engine,
    EngineSetup,
    Policy,
    SamplingParams,
    UnknownEngineError,
    list_engines,
    register_engine,
)
from learners.models import engines as engines_module
from learners.models.hf_engine import HFEngine
from learners.models.hf_scoring import HFScorer
from tests.learners.models.conftest import CONVS

GREEDY = SamplingParams(temperature=0, max_new_tokens=6)


class RecordingEngine:
    """The hf engine's sampling, recorded; offers scoring for top_k <= 4 (the forward pass's
    numbers, so only the dispatch differs)."""

    def __init__(self, setup: EngineSetup) -> None:
        self.sampler = HFEngine(
            setup.model, setup.tokenizer, setup.eos_ids, setup.pad_id, setup.batch_size
        )
        self.forward = HFScorer(setup.model, setup.pad_id, setup.batch_size)
        self.options = setup.options
        self.prompts: list[list[list[int]]] = []
        self.scored_calls = 0
        self.syncs = 0
        self.scoring = self

    def generate(self, prompts, params):
        self.prompts.append(prompts)
        return self.sampler.generate(prompts, params)

    def sync_weights(self, model) -> None:
        self.syncs += 1

    def can_score(self, top_k: int) -> bool:
        return top_k <= 4

    def score(self, prompts, completions, top_k):
        self.scored_calls += 1
        return self.forward.score(prompts, completions, top_k=top_k)


@pytest.fixture
def recording(monkeypatch):
    monkeypatch.setattr(engines_module, "_ENGINES", dict(engines_module._ENGINES))
    register_engine("recording", RecordingEngine)
    return Policy.load("tiny-random", engine="recording", device="cpu", engine_options={"x": 1})


def test_built_ins_are_registered_and_hf_keeps_the_contract(policy):
    assert {"hf", "vllm"} <= set(list_engines())
    assert isinstance(policy.engine, Engine) and policy.engine.scoring is None


def test_an_unknown_engine_is_one_line_naming_the_registered_ones():
    with pytest.raises(UnknownEngineError, match=r"^unknown engine 'onnx'; registered engines: hf"):
        Policy.load("tiny-random", engine="onnx", device="cpu")


def test_a_registered_engine_samples_for_the_policy(recording, policy):
    assert isinstance(recording.engine, RecordingEngine)
    assert recording.engine.options == {"x": 1}  # engine_options reach the factory
    got = recording.generate(CONVS, GREEDY)
    assert recording.engine.prompts == [[recording.render(c) for c in CONVS]]
    assert [c.token_ids for c in got] == [c.token_ids for c in policy.generate(CONVS, GREEDY)]


def test_the_engines_scoring_serves_only_what_it_can(recording):
    engine = recording.engine
    items = [(CONVS[0], [70, 71, 72])]
    served = recording.score(items, top_k=3)
    assert engine.scored_calls == 1
    forward = recording.score(items, top_k=3, grad=True)
    assert engine.scored_calls == 1  # gradients: the trainer's forward pass
    assert torch.allclose(served[0].topk_logprobs, forward[0].topk_logprobs.detach())
    recording.score(items, top_k=5)  # past what the engine offers
    recording.score(items, gather_ids=[served[0].topk_ids])
    weights = {n: p.detach() for n, p in recording.named_trainable_parameters()}
    recording.score(items, top_k=3, weights=weights)
    assert engine.scored_calls == 1


def test_changed_weights_reach_the_engine_before_it_samples(recording):
    engine = recording.engine
    recording.generate(CONVS[:1], GREEDY)
    assert engine.syncs == 0  # nothing changed since it was built
    with torch.no_grad():
        recording.trainable_parameters()[0].add_(0.01)
    recording.generate(CONVS[:1], GREEDY)
    assert engine.syncs == 1
    recording.generate(CONVS[:1], GREEDY)
    assert engine.syncs == 1
    recording.sync_weights()
    assert engine.syncs == 2
