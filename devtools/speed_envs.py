"""Environment throughput: steps per second of our games against TextArena's Mastermind.

Not a test: prints figures measured in one run, with TextArena as the baseline.

    python -m devtools.speed_envs [--seconds 2]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import envs


def steps_per_second(play_episode: Callable[[int], int], seconds: float) -> float:
    """Run whole episodes (reset included) for about ``seconds``; return steps / second."""
    steps, episode, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        steps += play_episode(episode)
        episode += 1
    return steps / (time.perf_counter() - start)


def ours(name: str, guesses: list[str]) -> Callable[[int], int]:
    env = envs.make(name)

    def play(seed: int) -> int:
        env.reset(seed=seed)
        for n, guess in enumerate(guesses, start=1):
            _, _, terminated, truncated, _ = env.step(guess)
            if terminated or truncated:
                return n
        return len(guesses)

    return play


def textarena_mastermind(guesses: list[str]) -> Callable[[int], int] | None:
    try:
        import textarena as ta
    except ImportError:
        return None
    env = ta.make("Mastermind-v0")
    state = random.getstate()

    def play(seed: int) -> int:
        env.reset(num_players=1, seed=seed)
        for n, guess in enumerate(guesses, start=1):
            env.get_observation()
            done, _ = env.step(guess)
            if done:
                return n
        return len(guesses)

    random.setstate(state)
    return play


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    codes = ["[1 2 3 4]", "[2 3 4 5]", "[3 4 5 6]", "[4 5 6 1]", "[5 6 1 2]", "[6 1 2 3]"]
    words = ["[crane]", "[about]", "[there]", "[which]", "[would]", "[other]"]
    rows = [
        ("ours: wordle", steps_per_second(ours("wordle", words), args.seconds)),
        ("ours: mastermind", steps_per_second(ours("mastermind", codes), args.seconds)),
    ]
    baseline = textarena_mastermind(codes)
    if baseline is None:
        print("textarena is not installed: no baseline (pip install -e '.[textarena]')")
        base = None
    else:
        base = steps_per_second(baseline, args.seconds)
        rows.append(("textarena: Mastermind-v0", base))
    for name, rate in rows:
        ratio = f"{rate / base:6.1f}x textarena" if base else ""
        print(f"{name:28s} {rate:10,.0f} steps/s  {ratio}")


if __name__ == "__main__":
    main()
