"""The small text-generation protocol the reflector and curator call.

A generator turns a batch of chat conversations (lists of ``{"role", "content"}`` messages)
into one completion text each, and counts the tokens it generated in ``tokens_generated`` so
the runner can account reflection and curation tokens apart from rollout tokens. The pipeline
passes ``seed`` (its update step): a sampling generator that honours it reflects the same way
when a run is resumed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from chat import Conversation
from reflection.playbook import approx_tokens


@runtime_checkable
class TextGenerator(Protocol):
    """``generate`` returns one text per conversation, in order; ``tokens_generated`` is the
    running total of generated tokens (exact where the backend reports them)."""

    tokens_generated: int

    def generate(
        self,
        conversations: Sequence[Conversation],
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[str]: ...


class ScriptedGenerator:
    """For tests: answers from a list (in call order, cycled never: running out is an error)
    or from a function of the conversation. Records every conversation it was given; its
    answers are fixed, so ``seed`` changes nothing."""

    def __init__(
        self,
        outputs: Sequence[str] | Callable[[Conversation], str],
        count_tokens: Callable[[str], int] = approx_tokens,
    ) -> None:
        self._fn = outputs if callable(outputs) else None
        self._queue = [] if callable(outputs) else list(outputs)
        self.count_tokens = count_tokens
        self.tokens_generated = 0
        self.calls: list[list[Conversation]] = []

    def generate(
        self,
        conversations: Sequence[Conversation],
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[str]:
        self.calls.append([list(c) for c in conversations])
        if self._fn is not None:
            texts = [self._fn(c) for c in conversations]
        else:
            if len(self._queue) < len(conversations):
                raise RuntimeError(
                    f"ScriptedGenerator ran out: {len(conversations)} asked, "
                    f"{len(self._queue)} left"
                )
            texts, self._queue = (
                self._queue[: len(conversations)],
                self._queue[len(conversations) :],
            )
        self.tokens_generated += sum(self.count_tokens(t) for t in texts)
        return texts


class CallableGenerator:
    """Adapter for any function ``fn(conversations) -> items``, e.g. the learner's policy:
    ``CallableGenerator(lambda convs: policy.generate(convs, params))``.

    An item may be a ``str`` or an object with ``.text`` (and, for exact counting,
    ``.token_ids``); other items count as empty text. With ``pass_max_new_tokens`` the
    function is called as ``fn(conversations, max_new_tokens)``; with ``pass_seed`` it also
    gets ``seed=`` (the pipeline's step), else the seed is the function's own business.
    """

    def __init__(
        self,
        fn: Callable[..., Sequence[Any]],
        count_tokens: Callable[[str], int] = approx_tokens,
        pass_max_new_tokens: bool = False,
        pass_seed: bool = False,
    ) -> None:
        self.fn = fn
        self.count_tokens = count_tokens
        self.pass_max_new_tokens = pass_max_new_tokens
        self.pass_seed = pass_seed
        self.tokens_generated = 0

    def generate(
        self,
        conversations: Sequence[Conversation],
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[str]:
        convs = [list(c) for c in conversations]
        args: list[Any] = [convs, max_new_tokens] if self.pass_max_new_tokens else [convs]
        items = self.fn(*args, seed=seed) if self.pass_seed else self.fn(*args)
        items = list(items)
        if len(items) != len(convs):
            raise RuntimeError(f"generator returned {len(items)} outputs for {len(convs)} prompts")
        texts = []
        for item in items:
            text = item if isinstance(item, str) else getattr(item, "text", None)
            text = text if isinstance(text, str) else ""
            ids = getattr(item, "token_ids", None)
            self.tokens_generated += len(ids) if ids is not None else self.count_tokens(text)
            texts.append(text)
        return texts


class OpenAIGenerator:
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM server, llama.cpp, ...),
    with the standard library only. One request per conversation, in order; a request that
    fails after ``retries`` gives an empty text (the parser counts it as dropped) and is
    counted in ``failures``. ``seed`` goes into the request (servers that support it, such as
    vLLM's, then sample reproducibly)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float = 0.7,
        max_new_tokens: int = 1024,
        timeout_s: float = 120.0,
        retries: int = 1,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.timeout_s = timeout_s
        self.retries = retries
        self.tokens_generated = 0
        self.failures = 0

    def generate(
        self,
        conversations: Sequence[Conversation],
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[str]:
        return [self._one(c, max_new_tokens or self.max_new_tokens, seed) for c in conversations]

    def _one(self, messages: Conversation, max_tokens: int, seed: int | None) -> str:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "temperature": self.temperature,
            "max_tokens": max_tokens,
        }
        if seed is not None:
            request["seed"] = seed
        body = json.dumps(request).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        for _ in range(self.retries + 1):
            req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    data = json.loads(resp.read().decode("utf-8", errors="replace"))
                text = data["choices"][0]["message"]["content"] or ""
            except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError):
                continue
            usage = data.get("usage") or {}
            n = usage.get("completion_tokens")
            self.tokens_generated += int(n) if isinstance(n, int) else approx_tokens(text)
            return str(text)
        self.failures += 1
        return ""
