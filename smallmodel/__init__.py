"""The suite's own small model: corpus, tokenizer, build, probes and measurement.

It sits above ``learners`` (it builds a model the learners load); nothing below imports it.
"""
