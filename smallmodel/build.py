"""Build the suite's own small model (preset ``resd-tiny``): copy ability first, then formats.

    python -m smallmodel.build --out smallmodel/checkpoints/resd-tiny   # ~1 hour, 2 threads
    python -m smallmodel.build --out /tmp/quick --quick                  # seconds, for tests
    python -m smallmodel.build --out B --continue-from A                 # a second phase
    python -m smallmodel.build --out B --continue-from A --phase longer  # the same, longer

Recipe (the reasons are in ``smallmodel.synthetic`` and the README's small-model section):

1. Corpus in the suite's exact formats (``smallmodel.corpus``): weak student play on the
   *training* split of each game, teacher contexts (SDPO's and RESD's, built by the learners'
   own prompt functions) followed by the answer they reveal, reflection / tagging / curation
   JSON. A share of teacher examples is counterfactual: the revealed word is swapped for another
   answer word everywhere in the privileged context and the target follows the swap, so the
   model learns to read the context rather than to infer the word from the marks.
2. A word-level tokenizer (``smallmodel.wordtok``): every answer word one token in both
   forms (``[word]`` and ``WORD``), frequent prose words one token, everything else bytes.
3. Training in stages of growing context length; each step's batch mixes synthetic retrieval
   sequences (``smallmodel.synthetic``; a share that falls stage by stage) with real examples
   (a long one keeps its end, where its answer is). The first stage's needles sit in random
   prose words, so the revealed word is the only answer word in sight and the copy forms
   (a few hundred steps); later stages use real text, which holds other answer words.
   Loss on every trained token (answers, JSON, synthetic targets); AdamW (0.9, 0.95), weight
   decay 0.1, warm-up then constant, linear decay over the last stage, gradient clip 1.0.
4. Probes printed during the build (``smallmodel.probes``): P1 copy of 40 answer words, P2 the
   revealed answer at several context lengths and depths with its counterfactual swap, P3 the
   same prompts without privileged context (the student). A run whose P1 stays at chance is
   stopped in minutes, not after an hour.

A second phase (``--continue-from``) trains on from a first phase's weights: with the
knowledge-tagging environment's needles (``CONTINUE_TAGGING``, ``corpus_xbrl.label_evidence``;
it has not formed the label copy yet: smallmodel/logs/, builds h and i), or with the first
phase's own mix at its longest contexts (``--phase longer``, ``CONTINUE_LONGER``: a longer
build without rebuilding the first 2,700 steps).

Saved as fp16 safetensors with the tokenizer, ``build.json`` (the config, corpus counts, the
probe curves) and ``build.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

import envs
from envs.wordle import REVEAL_PREFIX, Wordle, word_list
from envs.xbrl.env import XbrlTagging
from learners.prompts import resd_teacher_task, sdpo_teacher_task
from learners.sft import answer_ids
from smallmodel import probes
from smallmodel.corpus import CorpusConfig, Example, build_corpus
from smallmodel.corpus_xbrl import label_evidence
from smallmodel.synthetic import (
    IGNORE,
    Vocab,
    copy_sequence,
    needle_sequence,
    recall_sequence,
)
from smallmodel.wordtok import build_word_tokenizer, frequent_words


@dataclass
class Stage:
    """A phase of training: its length, context size, tokens per step and synthetic mix."""

    steps: int
    max_len: int
    batch_tokens: int
    synthetic: float  # share of sequences that are synthetic
    # copy, recall, Wordle needle, tagging needle: shares among synthetic sequences
    mix: tuple[float, float, float, float] = (0.3, 0.2, 0.5, 0.0)
    # filler of synthetic sequences: "text" (real text, which holds other answer words) or
    # "prose" (random prose words, no answer word: the needle is the only one to copy)
    filler: str = "text"


@dataclass
class BuildConfig:
    corpus: CorpusConfig = field(
        default_factory=lambda: CorpusConfig(
            games=("wordle", "xbrl"),
            tasks=3000,
            student_skill=0.08,
            teacher_per_task=2,
            short_teacher=0.3,
            reflect_share=0.35,
        )
    )
    # needles answered only after a teacher prompt's closing line (``Vocab.answer_cues``), so
    # the copy is tied to a teacher's request; off in the committed build (an experiment: a
    # first try, 2026-12-01, parsed more reflections, 56% against 44%, but its teachers named
    # the answer less often, 48% against 68%: smallmodel/logs/ build g)
    needle_cues: bool = False
    counterfactual: float = 0.3  # share of teacher examples whose revealed word is swapped
    # tagging needles (``corpus_xbrl.label_evidence``): evidence pieces drawn once, on training
    # tasks; a build without "xbrl" in its games has none (and no tagging needle share)
    label_pieces: int = 6000
    # how often each kind of real example is drawn (JSON answers are long and must be whole)
    kind_weights: dict[str, float] = field(
        default_factory=lambda: {
            "student": 0.3,
            "teacher": 0.35,
            "reflect": 0.15,
            "curate": 0.1,
            "tag": 0.1,
        }
    )
    words: int = 400  # prose words with their own token
    hidden_size: int = 192
    layers: int = 4
    heads: int = 6
    stages: tuple[Stage, ...] = (
        # the copy forms first where it is the only solution (no other answer word in sight:
        # measured to form by step ~250), then it learns which answer word to copy (real-text
        # filler, which holds other answer words), then at growing lengths
        Stage(
            steps=400,
            max_len=256,
            batch_tokens=4096,
            synthetic=0.9,
            mix=(0, 0, 1, 0),
            filler="prose",
        ),
        Stage(steps=600, max_len=256, batch_tokens=4096, synthetic=0.7, mix=(0.1, 0.1, 0.8, 0)),
        Stage(steps=800, max_len=512, batch_tokens=4096, synthetic=0.6, mix=(0.1, 0.1, 0.8, 0)),
        Stage(steps=600, max_len=1024, batch_tokens=4096, synthetic=0.5, mix=(0.1, 0.1, 0.8, 0)),
        Stage(steps=300, max_len=1536, batch_tokens=4096, synthetic=0.35, mix=(0.1, 0.1, 0.8, 0)),
    )
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.1
    log_every: int = 20  # loss and speed
    probe_every: int = 100  # P1
    probe_deep_every: int = 250  # P2, P3
    seed: int = 0
    threads: int = 1  # two threads thrash when anything else runs on a 2-core machine


QUICK = dict(
    corpus=CorpusConfig(games=("wordle", "xbrl"), tasks=16, reflect_share=0.5),
    words=64,
    hidden_size=32,
    layers=2,
    heads=2,
    stages=(
        Stage(steps=6, max_len=192, batch_tokens=1024, synthetic=0.6, mix=(0.3, 0.2, 0.3, 0.2)),
        Stage(steps=4, max_len=512, batch_tokens=1024, synthetic=0.3, mix=(0.3, 0.2, 0.3, 0.2)),
    ),
    label_pieces=40,
    warmup=2,
    log_every=5,
    probe_every=5,
    probe_deep_every=10,
)


# The second phase, from a first phase's weights (``--continue-from``): tagging needles once
# the copy has formed on Wordle's reveals. Mixed into the first phase from its start (build h,
# smallmodel/logs/), they slowed the Wordle copy and did not form a label copy by step 1,900.
CONTINUE_TAGGING = dict(
    stages=(
        Stage(steps=300, max_len=512, batch_tokens=4096, synthetic=0.6, mix=(0.05, 0.05, 0.3, 0.6)),
        Stage(
            steps=300, max_len=1024, batch_tokens=4096, synthetic=0.5, mix=(0.05, 0.05, 0.4, 0.5)
        ),
    ),
    lr=1e-3,
    warmup=20,
    probe_deep_every=50,
)

# A longer build: the first phase's own last-stage mix for 1,000 more steps at its longest
# contexts, at half its learning rate (``--phase longer``).
CONTINUE_LONGER = dict(
    stages=(
        Stage(steps=500, max_len=1024, batch_tokens=4096, synthetic=0.5, mix=(0.1, 0.1, 0.8, 0)),
        Stage(steps=500, max_len=1536, batch_tokens=4096, synthetic=0.35, mix=(0.1, 0.1, 0.8, 0)),
    ),
    lr=1e-3,
    warmup=20,
    probe_deep_every=100,
)
SECOND_PHASES = {"tagging": CONTINUE_TAGGING, "longer": CONTINUE_LONGER}


def label_tokens(games: tuple[str, ...]) -> list[str]:
    """The label names of the corpus' tagging games (default settings): one token each."""
    out: list[str] = []
    for name in games:
        game = envs.make(name).unwrapped
        if isinstance(game, XbrlTagging):
            out += game.label_set.names
    return list(dict.fromkeys(out))


def answer_words(games: tuple[str, ...]) -> list[str]:
    """The answer pools of the corpus' Wordle games (default settings): one token each."""
    out: list[str] = []
    for name in games:
        game = envs.make(name).unwrapped
        if isinstance(game, Wordle):
            out += word_list(game.length)[: game.pool_size]
    return list(dict.fromkeys(out))


def label_pieces(
    cfg: BuildConfig, tok: Any, rng: np.random.Generator
) -> list[tuple[list[int], list[int]]]:
    """Encoded ``(evidence, answer)`` needles of the corpus' tagging games, on training tasks
    (seeds from the corpus' first seed on; ``reset`` draws from the training split)."""
    pieces: list[tuple[list[int], list[int]]] = []
    for name in cfg.corpus.games:
        env = envs.make(name)
        if not isinstance(env.unwrapped, XbrlTagging):
            continue
        for k in range(cfg.label_pieces):
            evidence, answer = label_evidence(env, cfg.corpus.first_seed + k, rng)
            pieces.append(
                (
                    tok(evidence, add_special_tokens=False)["input_ids"],
                    tok(answer, add_special_tokens=False)["input_ids"],
                )
            )
    return pieces


def encode(tok: Any, example: Example) -> tuple[list[int], list[int]]:
    """Ids of the conversation as ``Policy.render`` builds it, and next-token labels that
    train each target assistant answer (its tokens and the end-of-turn token)."""
    shim = SimpleNamespace(tokenizer=tok)
    ids: list[int] = []
    flags: list[bool] = []
    done = ""
    for i in sorted(example.targets):
        prompt = tok.apply_chat_template(
            example.messages[:i], add_generation_prompt=True, tokenize=False
        )
        if not prompt.startswith(done):
            raise ValueError("chat template is not prefix-consistent across turns")
        seg = tok(prompt[len(done) :], add_special_tokens=False)["input_ids"]
        ans = answer_ids(shim, example.messages[i]["content"])
        ids += seg + ans
        flags += [False] * len(seg) + [True] * len(ans)
        done = prompt + example.messages[i]["content"] + tok.eos_token
    labels = [IGNORE] * len(ids)
    for j in range(1, len(ids)):
        if flags[j]:
            labels[j - 1] = ids[j]
    return ids, labels


def swap_revealed(example: Example, words: list[str], rng: np.random.Generator) -> Example:
    """The counterfactual teacher example: the revealed word replaced by another answer word
    in the privileged (first) message, and the target answer with it."""
    target = example.messages[-1]["content"]  # "[word]"
    word = target.strip("[]")
    other = words[int(rng.integers(len(words)))]
    if other == word:
        return example
    messages = [dict(m) for m in example.messages]
    first = messages[0]["content"]
    first = first.replace(word.upper(), other.upper()).replace(f"[{word}]", f"[{other}]")
    messages[0]["content"] = first
    messages[-1]["content"] = f"[{other}]"
    return Example(messages, example.targets, example.kind, example.env)


def make_model(cfg: BuildConfig, tok: Any) -> torch.nn.Module:
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=cfg.hidden_size,
        intermediate_size=3 * cfg.hidden_size,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tok.convert_tokens_to_ids("<|im_start|>"),
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model


def continued_model(init: str | os.PathLike, tok: Any) -> torch.nn.Module:
    """The weights of an earlier phase, in fp32; refused when its tokenizer differs."""
    earlier = AutoTokenizer.from_pretrained(init)
    if earlier.get_vocab() != tok.get_vocab():
        raise ValueError(f"{init}: its tokenizer is not the one this build makes (another corpus?)")
    model = AutoModelForCausalLM.from_pretrained(init, dtype=torch.float32)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model


def make_vocab(tok: Any, words: list[str], prose: list[str], cues: bool = False) -> Vocab:
    def ids(text: str) -> tuple[int, ...]:
        return tuple(tok(text, add_special_tokens=False)["input_ids"])

    answers = tuple(ids(f"[{w}]")[0] for w in words)
    reveals = tuple(ids(f" {w.upper()}")[-1] for w in words)
    opener = tok.apply_chat_template(
        [{"role": "user", "content": "x"}], add_generation_prompt=True, tokenize=False
    )
    after_user = opener[opener.index("x") + 1 :]
    return Vocab(
        answers=answers,
        reveals=reveals,
        prose=tuple(ids(f" {w}")[0] for w in prose),
        separator=ids("\n\n"),
        reveal_prefix=ids(REVEAL_PREFIX),
        reveal_suffix=ids("."),
        answer_open=ids(after_user),
        answer_close=(tok.eos_token_id,),
        answer_cues=tuple(ids("\n\n" + line) for line in teacher_closing_lines()) if cues else (),
    )


def teacher_closing_lines() -> list[str]:
    """The last line of each teacher prompt the learners build (SDPO's, RESD's)."""
    prompts = (
        sdpo_teacher_task("x", feedback="y"),
        resd_teacher_task("x", previous_trial="y", feedback="z"),
    )
    return list(dict.fromkeys(p.rsplit("\n", 1)[-1] for p in prompts))


class Mixer:
    """Draws each step's sequences: synthetic or real, cut to the stage's context size."""

    def __init__(
        self,
        real: dict[str, list[tuple[list[int], list[int]]]],
        weights: dict[str, float],
        vocab: Vocab,
        texts: list[list[int]],
        rng: np.random.Generator,
        pieces: Sequence[tuple[list[int], list[int]]] = (),
    ) -> None:
        # "prose" filler: random prose words, drawn once
        prose = [[int(t) for t in rng.choice(vocab.prose, size=512)] for _ in range(256)]
        self.fillers = {"text": texts, "prose": prose}
        self.kinds = [k for k in real if weights.get(k, 0) > 0]
        total = sum(weights[k] for k in self.kinds)
        self.p = [weights[k] / total for k in self.kinds]
        self.real, self.vocab, self.rng = real, vocab, rng
        self.pieces = list(pieces)
        self._fitting: dict[int, list[tuple[list[int], list[int]]]] = {}

    def pieces_within(self, max_len: int) -> list[tuple[list[int], list[int]]]:
        """Tagging needles short enough to leave room for filler (at most half a context)."""
        if max_len not in self._fitting:
            fit = [p for p in self.pieces if len(p[0]) + len(p[1]) + 8 <= max_len // 2]
            self._fitting[max_len] = fit
        return self._fitting[max_len]

    def real_example(self, max_len: int) -> tuple[list[int], list[int]]:
        """A real example; one longer than ``max_len`` keeps its end, where its answer is
        (cutting the end would leave the long kinds, reflections and curations, untrained
        until the last stage)."""
        pool = self.real[self.kinds[int(self.rng.choice(len(self.kinds), p=self.p))]]
        ids, labels = pool[int(self.rng.integers(len(pool)))]
        return ids[-max_len:], labels[-max_len:]

    def synthetic(self, stage: Stage) -> tuple[list[int], list[int]]:
        mix = np.array(stage.mix, dtype=float)
        if not self.pieces_within(stage.max_len):
            mix[3] = 0.0  # no tagging game in this build
        kind = int(self.rng.choice(len(mix), p=mix / mix.sum()))
        texts = self.fillers[stage.filler]
        if kind == 0:
            return copy_sequence(self.rng, self.vocab, texts, stage.max_len)
        if kind == 1:
            return recall_sequence(self.rng, self.vocab, stage.max_len)
        if kind == 2:
            return needle_sequence(self.rng, self.vocab, texts, stage.max_len)
        pieces = self.pieces_within(stage.max_len)
        return needle_sequence(self.rng, self.vocab, texts, stage.max_len, pieces)

    def batch(self, stage: Stage) -> list[tuple[list[int], list[int]]]:
        rows: list[tuple[list[int], list[int]]] = []
        width = 0
        while True:
            if self.rng.random() < stage.synthetic:
                row = self.synthetic(stage)
            else:
                row = self.real_example(stage.max_len)
            width = max(width, len(row[0]))
            if rows and width * (len(rows) + 1) > stage.batch_tokens:
                return rows
            rows.append(row)


def collate(rows: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, ...]:
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, (x, y) in enumerate(rows):
        ids[k, : len(x)] = torch.tensor(x)
        labels[k, : len(y)] = torch.tensor(y)
        mask[k, : len(x)] = 1
    return ids, mask, labels


def lr_factor(step: int, total: int, warmup: int, decay_steps: int) -> float:
    """Linear warm-up, constant, then a linear decay to 10% over the last ``decay_steps``."""
    if step < warmup:
        return (step + 1) / warmup
    left = total - step
    if left < decay_steps:
        return 0.1 + 0.9 * left / decay_steps
    return 1.0


def build(
    cfg: BuildConfig, out: str | os.PathLike, log: Any = print, init: str | None = None
) -> dict:
    """Build, train and save; returns the build record (also written to build.json).
    ``init``: a checkpoint of an earlier phase to continue from (its tokenizer must be the one
    this configuration builds)."""
    torch.set_num_threads(cfg.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    examples = build_corpus(cfg.corpus)
    words = answer_words(cfg.corpus.games)
    for i, e in enumerate(examples):
        if e.kind == "teacher" and rng.random() < cfg.counterfactual:
            examples[i] = swap_revealed(e, words, rng)
    texts = [m["content"] for e in examples for m in e.messages]
    prose = frequent_words(texts, cfg.words)
    tok = build_word_tokenizer(prose, words, label_tokens(cfg.corpus.games))
    real: dict[str, list[tuple[list[int], list[int]]]] = {}
    for e in examples:
        real.setdefault(e.kind, []).append(encode(tok, e))
    kinds = {k: len(v) for k, v in real.items()}
    # filler text for synthetic sequences, with no reveal that could compete with the needle
    plain = ["\n".join(x for x in t.splitlines() if REVEAL_PREFIX not in x) for t in texts[:4000]]
    filler = [tok(t, add_special_tokens=False)["input_ids"] for t in plain]
    vocab = make_vocab(tok, words, prose, cues=cfg.needle_cues)
    lengths = [len(ids) for rows in real.values() for ids, _ in rows]
    log(
        f"corpus: {len(examples)} examples {kinds}, {sum(lengths)} tokens, longest "
        f"{max(lengths)}, vocab {len(tok)}, {time.perf_counter() - t0:.0f}s"
    )
    model = make_model(cfg, tok) if init is None else continued_model(init, tok)
    n_params = sum(p.numel() for p in model.parameters())
    log(
        f"model: {n_params / 1e6:.2f}M parameters ({cfg.layers} layers, width "
        f"{cfg.hidden_size}, {cfg.heads} heads)"
    )
    probe_set = probes.ProbeSet.make(
        tok, vocab, words, filler, seed=cfg.seed + 1, tagging="xbrl" in cfg.corpus.games
    )
    # the needles' own generator: the batches of a build without tagging needles stay the
    # committed build's
    pieces = label_pieces(cfg, tok, np.random.default_rng([cfg.seed, 4]))
    mixer = Mixer(real, cfg.kind_weights, vocab, filler, rng, pieces)
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay
    )
    total = sum(s.steps for s in cfg.stages)
    decay = cfg.stages[-1].steps
    curves: list[dict[str, Any]] = []
    step, seen_tokens, t_train = 0, 0, time.perf_counter()
    for n_stage, stage in enumerate(cfg.stages):
        for _ in range(stage.steps):
            for group in opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, total, cfg.warmup, decay)
            model.train()
            ids, mask, labels = collate(mixer.batch(stage), tok.pad_token_id)
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=IGNORE
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            seen_tokens += int(mask.sum())
            if step % cfg.log_every == 0:
                elapsed = time.perf_counter() - t_train
                log(
                    f"step {step}/{total} stage {n_stage + 1} loss {float(loss.detach()):.3f} "
                    f"{seen_tokens / elapsed:.0f} tok/s {elapsed:.0f}s"
                )
            record: dict[str, Any] = {}
            if step % cfg.probe_every == 0 or step == total:
                model.eval()
                record.update(probes.copy_probe(model, probe_set))
            if step % cfg.probe_deep_every == 0 or step == total:
                model.eval()
                record.update(probes.reveal_probe(model, probe_set))
                record.update(probes.tagging_probe(model, probe_set))
            if record:
                record.update(
                    step=step,
                    stage=n_stage + 1,
                    loss=round(float(loss.detach()), 4),
                    tokens=seen_tokens,
                    seconds=round(time.perf_counter() - t_train),
                )
                curves.append(record)
                log(json.dumps(record))
        save(model, tok, out)  # a usable model at the end of every stage
    record = {
        "config": asdict(cfg),
        "examples": kinds,
        "parameters": n_params,
        "steps": step,
        "train_tokens": seen_tokens,
        "seconds": round(time.perf_counter() - t0, 1),
        "probes": curves,
    }
    (out / "build.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def save(model: torch.nn.Module, tok: Any, out: Path) -> None:
    model.to(torch.float16).save_pretrained(out)
    model.to(torch.float32)
    tok.save_pretrained(out)


def recipe(quick: bool, phase: str | None = None) -> dict[str, Any]:
    """The ``BuildConfig`` fields that differ from the default recipe: the quick build's, and
    a second phase's (``SECOND_PHASES``); a quick second phase keeps the quick stages."""
    fields = dict(QUICK) if quick else {}
    if phase is not None:
        fields.update({k: v for k, v in SECOND_PHASES[phase].items() if not quick or k == "lr"})
    return fields


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder to write the model into")
    ap.add_argument("--quick", action="store_true", help="a tiny build in seconds (tests)")
    ap.add_argument("--threads", type=int, help="torch threads (default 1)")
    ap.add_argument(
        "--hidden-size", type=int, help=f"model width (default {BuildConfig.hidden_size})"
    )
    ap.add_argument("--layers", type=int, help=f"decoder layers (default {BuildConfig.layers})")
    ap.add_argument("--heads", type=int, help=f"attention heads (default {BuildConfig.heads})")
    ap.add_argument(
        "--continue-from",
        metavar="DIR",
        help="second phase: train on from the weights of a first phase's build",
    )
    ap.add_argument(
        "--phase",
        choices=sorted(SECOND_PHASES),
        default="tagging",
        help="the second phase's recipe: tagging needles, or the first phase's mix for longer",
    )
    args = ap.parse_args(argv)
    cfg = BuildConfig(**recipe(args.quick, args.phase if args.continue_from else None))
    for name in ("threads", "hidden_size", "layers", "heads"):
        if getattr(args, name):
            setattr(cfg, name, getattr(args, name))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "build.log", "w", encoding="utf-8") as log_file:

        def log(line: str) -> None:
            print(line, flush=True)
            log_file.write(line + "\n")
            log_file.flush()

        record = build(cfg, out, log, init=args.continue_from)
    print(json.dumps({k: record[k] for k in ("steps", "train_tokens", "seconds")}))


if __name__ == "__main__":
    main()
