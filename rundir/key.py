"""A run's identity: a hash of its resolved configuration.

Two runs measure the same thing exactly when their configs agree on everything but the seed
and provenance (versions, git commit, where the directory lives, torch threads, vLLM's tensor
parallel size and memory share, FSDP, the sandbox level). The runner puts this key in
``config.json`` and its default directory name; compare reuses a finished run only under the
same key; the leaderboard pools only runs of one key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Config keys that do not change what a run measures: runs differing only here pool together.
NON_RESULT_KEYS = frozenset(
    {
        "seed",
        "versions",
        "git_commit",
        "out",
        "run_dir",
        "resume",
        "threads",
        "tensor_parallel_size",
        "gpu_memory_fraction",
        "fsdp",
        "sandbox_isolation",
        "config_key",
    }
)


def config_key(config: dict[str, Any]) -> str:
    """Hash of everything in a config that changes what a run measures (12 hex digits)."""
    kept = {k: v for k, v in config.items() if k not in NON_RESULT_KEYS}
    blob = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
