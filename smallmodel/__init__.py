"""The suite's own small models: corpus, tokenizer, build, probes and measurement.

This package sits above ``learners`` (it builds models the learners load) and nothing below
imports it. Importing it registers the presets it builds on first use (``tiny-copy``); the
committed ``resd-tiny`` checkpoint is runtime data and loads without it.
"""

from smallmodel import toy as _toy  # noqa: F401  (registers the tiny-copy preset)
