"""Developer measurement scripts: speed of environments, the model layer and the peers, the
vLLM parity check and a reflection demo. Not part of the product (benchmarks/ is the runner,
compare, presets and plots); nothing imports this package.
"""
