"""The model layer: one ``Policy`` API over a causal LM, whichever engine samples from it.

Exports: Policy (generate / score / render / weights), SamplingParams, Completion, TokenScores,
EmaTeacher (an EMA copy of the trainable weights that scores like a Policy), LoraSettings, the
engine contract and registry (Engine, EngineSetup, register_engine, list_engines; built-ins
"hf" and "vllm") and the preset registry (register_preset, list_presets; built-ins
"tiny-random", "smollm2-135m", and "resd-tiny", the suite's own small model, built by the
``smallmodel`` package). See policy.py for the full API; log-prob conventions are in types.py.
"""

from learners.models.ema import EmaTeacher
from learners.models.engines import (
    Engine,
    EngineScoring,
    EngineSetup,
    UnknownEngineError,
    list_engines,
    register_engine,
)
from learners.models.policy import Policy
from learners.models.presets import (
    LoadedModel,
    PresetUnavailable,
    cache_root,
    list_presets,
    register_preset,
)
from learners.models.types import Completion, LoraSettings, SamplingParams, TokenScores

__all__ = [
    "Completion",
    "EmaTeacher",
    "Engine",
    "EngineScoring",
    "EngineSetup",
    "LoadedModel",
    "LoraSettings",
    "Policy",
    "PresetUnavailable",
    "SamplingParams",
    "TokenScores",
    "UnknownEngineError",
    "cache_root",
    "list_engines",
    "list_presets",
    "register_engine",
    "register_preset",
]
