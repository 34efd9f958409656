"""Hypothesis strategies for text a model may write: any string, and degenerate structure.

``any_text`` draws from every code point, lone surrogates and control characters included
(hypothesis leaves surrogates out unless asked). ``model_text`` glues together the tokens that
parsers react to (brackets, quotes, fences, thinking tags, DSL keywords, ANSI escapes), with
repetition, so deep nesting and unbalanced structure come up in a few dozen examples.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

EVERY_CHARACTER = st.characters(codec=None, exclude_categories=())

TOKENS = (
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    ":",
    ",",
    "\\",
    "```",
    "```json\n",
    "```python\n",
    "\n",
    "<think>",
    "</think>",
    "state A",
    "state B",
    "  R: goto B",
    "  *: accept",
    "  end: reject",
    "write RB",
    "def predict(balls, width, height, t):\n    return balls",
    '"operations"',
    '"type": "ADD"',
    '"bullet_tags"',
    '"reasoning"',
    "True",
    "None",
    "1e999",
    "NaN",
    "-0",
    "crane",
    "[crane]",
    "[1234]",
    "\ud800",
    "\udfff",
    "\ud83d",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "|",
)

OPENERS = ("[", "{", "(", '"', "'", "<think>", '{"a": ', '{"a": [', "```\n")
# Repeat counts around the interpreter's recursion limit (1000) and well past it.
RUNS = st.one_of(st.integers(1, 30), st.sampled_from([999, 1000, 1001, 3000, 10_000]))

any_text = st.text(EVERY_CHARACTER, max_size=300)
model_text = st.lists(
    st.one_of(
        st.sampled_from(TOKENS),
        st.builds(lambda tok, n: tok * n, st.sampled_from(OPENERS), RUNS),
        st.text(EVERY_CHARACTER, max_size=20),
    ),
    max_size=30,
).map("".join)
hostile_text = st.one_of(any_text, model_text)

# Few examples and no deadline: the suite runs on a shared 2-core machine.
FAST = settings(max_examples=60, deadline=None)
