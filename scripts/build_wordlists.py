"""Build the Wordle word lists shipped in envs/data/ from an offline source.

Source: the PyPI package ``wordfreq`` (word frequencies shipped inside the package, no
network). For each length, every lower-case ASCII word with Zipf frequency >= 2.0 is kept,
most frequent first: the answer pool is a prefix of the list (``pool_size``), the whole list
is the set of allowed guesses. Re-run after changing the rule:

    python scripts/build_wordlists.py
"""

from __future__ import annotations

from pathlib import Path

from wordfreq import top_n_list, zipf_frequency

LENGTHS = (4, 5, 6)
MIN_ZIPF = 2.0
OUT = Path(__file__).resolve().parents[1] / "envs" / "data"


def words_of_length(length: int, vocabulary: list[str]) -> list[str]:
    return [
        w
        for w in vocabulary
        if len(w) == length
        and w.isascii()
        and w.isalpha()
        and w.islower()
        and zipf_frequency(w, "en") >= MIN_ZIPF
    ]


def main() -> None:
    vocabulary = top_n_list("en", 500_000)
    OUT.mkdir(parents=True, exist_ok=True)
    for length in LENGTHS:
        words = words_of_length(length, vocabulary)
        (OUT / f"words{length}.txt").write_text("\n".join(words) + "\n")
        print(f"words{length}.txt: {len(words)} words (most common: {', '.join(words[:5])})")


if __name__ == "__main__":
    main()
