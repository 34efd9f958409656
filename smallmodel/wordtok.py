"""A byte-level tokenizer with whole-word tokens for the prose of the suite's prompts.

Why: the prompts are long fixed prose (task statements, teacher sections, reflection and
curation instructions) around short game content (guesses, marks, codes). One token per byte
makes every sequence 4-5x longer than it needs to be; ordinary BPE would merge the game's
words into subword pieces that hide their letters. Here only a fixed list of prose words,
each written after a space (`` guess``), becomes one token; everything else (marks, digits,
JSON punctuation, unlisted words) stays one token per byte, so a small model can read and copy
letters. Any text round-trips exactly.

Optionally a list of game words (a Wordle answer pool) is added whole, in the two forms the
environment prints: ``[word]`` (a guess, as the player writes it and as a lost game's reveal
writes it, "The word was [storm].") and ``WORD`` (as the feedback shows a guess), the latter
also with the space before it as one token. ``[word]`` has one token only, whatever precedes
it: the answer a teacher must give is then the very token its context holds, so using the
context is a copy, not a copy plus a translation between two forms.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from learners.models.tiny import wrap_chatml

_WORD = re.compile(r'(?:(?<=[ "])|^)([a-z_]{2,24}|[A-Z][a-z]{1,23})(?![A-Za-z0-9_])', re.M)
_VALID = re.compile(r"[a-z_]{2,24}|[A-Z][a-z]{1,23}")
_GAME = re.compile(r"[a-z]{2,12}")
_NAME = re.compile(r"[A-Za-z]{2,60}")
SPACE, NEWLINE = "\u0120", "\u010a"  # ByteLevel's stand-ins for " " and "\n"


def frequent_words(texts: Iterable[str], size: int, min_count: int = 20) -> list[str]:
    """The ``size`` most frequent prose words (lower-case, or capitalised like ``Turn``) that
    start a line or follow a space or a double quote (ties alphabetical)."""
    counts = Counter(w for t in texts for w in _WORD.findall(t))
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return ranked[:size]


def build_word_tokenizer(
    words: list[str], game_words: Iterable[str] = (), names: Iterable[str] = ()
) -> PreTrainedTokenizerFast:
    """Bytes + ChatML specials + tokens `` word`` and ``word`` (after a line start or a double
    quote) for each of ``words``, ``[w]`` and `` W``/``W`` (not inside a longer letter run) for
    each lower-case game word ``w``, and `` Name`` and ``Name`` (not followed by a letter) for
    each of ``names``: labels such as ``EarningsPerShareBasic``, so a label is one token to
    read, copy and answer with.

    The text is first mapped to ByteLevel characters, then split into whole listed words or
    single byte characters, each looked up in a word-level vocabulary: no merges, so a listed
    word is always exactly one token and anything else exactly one token per byte.
    """
    if any(not _VALID.fullmatch(w) for w in words):
        raise ValueError("words must be 2-24 letters: a-z/_ or one capital then a-z")
    game = sorted(set(game_words), key=lambda w: (-len(w), w))
    if any(not _GAME.fullmatch(w) for w in game):
        raise ValueError("game words must be 2-12 lower-case letters a-z")
    words = sorted(set(words), key=lambda w: (-len(w), w))  # longest first in the regex
    labels = sorted(set(names), key=lambda w: (-len(w), w))
    if any(not _NAME.fullmatch(n) for n in labels):
        raise ValueError("names must be 2-60 ASCII letters")
    vocab = {"<|endoftext|>": 0}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    for w in words:
        vocab[SPACE + w] = len(vocab)
        vocab[w] = len(vocab)
    for w in game:  # with and without the space before them (see the module docstring)
        for form in (f"[{w}]", w.upper(), SPACE + w.upper()):
            vocab[form] = len(vocab)
    for n in labels:
        for form in (SPACE + n, n):
            vocab.setdefault(form, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    parts = []
    if game:
        parts.append(f"\\[(?:{'|'.join(game)})\\]")
        upper = "|".join(w.upper() for w in game)
        parts.append(f"(?:{SPACE}|(?<![A-Za-z]))(?:{upper})(?![A-Za-z])")
    if labels:
        parts.append(f"{SPACE}?(?:{'|'.join(labels)})(?![A-Za-z])")
    if words:
        alt = "|".join(words)
        end = "(?![A-Za-z0-9_])"
        parts.append(f'{SPACE}(?:{alt}){end}|(?:^|(?<=["{NEWLINE}]))(?:{alt}){end}')
    pattern = "|".join([*parts, "[\\s\\S]"])
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        ]
    )
    core.decoder = decoders.ByteLevel()
    return wrap_chatml(core)
