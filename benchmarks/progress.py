"""Training progress where a person or a log can see it.

On a terminal, tqdm's live bar. Anywhere else (a log file, CI, a job scheduler), where a bar
would print nothing until the end, one plain line at most every ``every`` seconds, at the end
of a step: samples drawn, train success, tokens/s and the time left at the rate so far.
Result lines (evaluations) go to stdout through ``write`` either way; progress to stderr.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from tqdm import tqdm


def duration(seconds: float) -> str:
    """Compact wall time: 45s, 3m05s, 1h02m."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Progress of ``total`` samples from ``initial`` (a resumed run starts part-way)."""

    def __init__(
        self,
        total: int,
        initial: int,
        desc: str,
        stream: IO[str] | None = None,
        every: float = 5.0,
        live: bool | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.total, self.done, self.desc, self.every = total, initial, desc, every
        self.start_done, self.t0 = initial, time.perf_counter()
        self.last_line = self.t0
        self.bar: Any = None
        if self.live:
            self.bar = tqdm(
                total=total,
                initial=initial,
                unit="ep",
                desc=desc,
                dynamic_ncols=True,
                file=self.stream,
            )

    def update(self, samples: int, success: float, tokens_per_second: float) -> None:
        """``samples`` more were drawn by a step whose train success was ``success``."""
        self.done += samples
        if self.bar is not None:
            self.bar.update(samples)
            self.bar.set_postfix(train_success=f"{success:.2f}", tok_s=f"{tokens_per_second:.0f}")
            return
        now = time.perf_counter()
        if now - self.last_line >= self.every or self.done >= self.total:
            self.last_line = now
            print(self.line(success, tokens_per_second, now), file=self.stream, flush=True)

    def line(self, success: float, tokens_per_second: float, now: float) -> str:
        elapsed = now - self.t0
        rate = (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = "?" if left is None else duration(left)
        return (
            f"[{self.desc}] {self.done}/{self.total} samples "
            f"({100 * self.done / max(self.total, 1):.0f}%), train success {success:.2f}, "
            f"{tokens_per_second:.0f} tok/s, elapsed {duration(elapsed)}, ETA {eta}"
        )

    def write(self, text: str) -> None:
        """A result line (an evaluation): on stdout, above the bar when there is one."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, file=sys.stdout, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
