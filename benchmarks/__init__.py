"""Benchmark runner: trains a learner on an environment and records its curves."""
