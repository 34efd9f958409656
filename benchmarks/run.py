"""Main job. The training runner is not built yet: this plays ONE episode with a RANDOM policy.

    python -m benchmarks.run --env wordle --learner resd

It prints the transcript so that the environment side can be seen end to end. ``--learner`` is
accepted but no learner trains yet (see the README's status section).
"""

from __future__ import annotations

import argparse

import numpy as np

import envs


def random_action(env_name: str, rng: np.random.Generator) -> str:
    """A uniformly random guess in the answer format of the built-in games."""
    if env_name == "mastermind":
        return "[" + " ".join(str(int(c)) for c in rng.integers(1, 7, size=4)) + "]"
    from envs.wordle import word_list

    words = word_list(5)
    return f"[{words[int(rng.integers(len(words)))]}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="wordle", choices=envs.list())
    parser.add_argument("--learner", default="resd", help="accepted; no learner trains yet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("NOTE: the runner is not built yet; this is one episode of a RANDOM policy.\n")
    env = envs.make(args.env)
    rng = np.random.default_rng(args.seed)
    obs, info = env.reset(seed=args.seed)
    print(f"[env] {obs}")
    done = False
    while not done:
        action = random_action(args.env, rng)
        obs, reward, terminated, truncated, info = env.step(action)
        print(f"[random policy] {action}\n[env] {obs}")
        done = terminated or truncated
    print(f"\nreward={reward} success={info['success']} progress={info['progress']:.2f}")


if __name__ == "__main__":
    main()
