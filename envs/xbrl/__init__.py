"""XBRL tagging (in the spirit of FiNER-139): the label catalogue, sentences, answers, the env."""

from envs.xbrl.answers import ParsedAnswer, parse_answer, render_answer
from envs.xbrl.env import Mention, XbrlTagging, XbrlTask
from envs.xbrl.labels import CATALOGUE, PAIRS, LabelSet, Rule, Unit, label_names, label_set
from envs.xbrl.sentences import TEMPLATES

__all__ = [
    "CATALOGUE",
    "PAIRS",
    "TEMPLATES",
    "LabelSet",
    "Mention",
    "ParsedAnswer",
    "Rule",
    "Unit",
    "XbrlTagging",
    "XbrlTask",
    "label_names",
    "label_set",
    "parse_answer",
    "render_answer",
]
