"""Benchmark runner: trains a learner on an environment and records interaction-efficiency curves."""
