"""Reflection component: reflector, curator and the persistent playbook of lessons."""

from chat import strip_thinking  # re-exported: part of this package's API
from reflection.concise import ConciseResult, concise
from reflection.curator import CurationStats, Curator, Operation, parse_operations
from reflection.generators import (
    CallableGenerator,
    OpenAIGenerator,
    ScriptedGenerator,
    TextGenerator,
)
from reflection.lenient_json import Extracted, extract_json
from reflection.pipeline import Attempt, ReflectionConfig, ReflectionPipeline, StepReport
from reflection.playbook import ACE_SECTIONS, Bullet, Playbook, approx_tokens
from reflection.recorder import PlaybookRecorder, playbook_at, read_history
from reflection.reflector import (
    OracleReflector,
    Reflection,
    Reflector,
    apply_tags,
    parse_reflection,
)
from reflection.similarity import EmbeddingSimilarity, TextSimilarity

__all__ = [
    "ACE_SECTIONS",
    "Attempt",
    "Bullet",
    "CallableGenerator",
    "ConciseResult",
    "CurationStats",
    "Curator",
    "EmbeddingSimilarity",
    "Extracted",
    "OpenAIGenerator",
    "Operation",
    "OracleReflector",
    "Playbook",
    "PlaybookRecorder",
    "Reflection",
    "ReflectionConfig",
    "ReflectionPipeline",
    "Reflector",
    "ScriptedGenerator",
    "StepReport",
    "TextGenerator",
    "TextSimilarity",
    "apply_tags",
    "approx_tokens",
    "concise",
    "extract_json",
    "parse_operations",
    "parse_reflection",
    "playbook_at",
    "read_history",
    "strip_thinking",
]
