"""Training progress where a person or a log can see it.

On a terminal, tqdm's live bar. Anywhere else (a log file, CI, a job scheduler), where a bar
would print nothing until the end, one plain line every ``every`` seconds: samples drawn, train
success, tokens/s and the time left at the rate so far, and, while a long step runs, what it is
doing (``phase``, set by the runner). A background timer writes the lines between steps, so a
step of minutes is never silent.
Result lines (evaluations) go to stdout through ``write`` either way; progress to stderr.
A sweep counts runs instead of samples (``unit="runs", rates=False``): the same bar or lines,
without the training rates.
"""

from __future__ import annotations

import sys
import threading
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
        unit: str = "samples",
        rates: bool = True,
        quiet: bool = False,
    ) -> None:
        self.quiet = quiet  # counts, says nothing (the other ranks of a data-parallel run)
        self.stream = stream or sys.stderr
        self.live = not quiet and (self.stream.isatty() if live is None else live)
        self.total, self.done, self.desc, self.every = total, initial, desc, every
        self.unit, self.rates = unit, rates  # rates: train success and tokens/s in each line
        self.start_done, self.t0 = initial, time.perf_counter()
        self.last_line = self.t0
        self.success, self.tokens_per_second, self.phase = 0.0, 0.0, "starting"
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.bar: Any = None
        if not self.live and every > 0 and not quiet:  # (every=0: a line at each step, no timer)
            threading.Thread(target=self._heartbeat, daemon=True).start()
        if self.live:
            self.bar = tqdm(
                total=total,
                initial=initial,
                unit="ep" if rates else unit,
                desc=desc,
                dynamic_ncols=True,
                file=self.stream,
            )

    def update(self, samples: int, success: float = 0.0, tokens_per_second: float = 0.0) -> None:
        """``samples`` more were drawn by a step whose train success was ``success`` (a sweep:
        ``samples`` more runs ended)."""
        with self.lock:
            self.done += samples
            self.success, self.tokens_per_second = success, tokens_per_second
        if self.bar is not None:
            self.bar.update(samples)
            if self.rates:
                self.bar.set_postfix(
                    train_success=f"{success:.2f}", tok_s=f"{tokens_per_second:.0f}"
                )
            return
        if self.quiet:
            return
        if time.perf_counter() - self.last_line >= self.every or self.done >= self.total:
            self._print_line()

    def _print_line(self, phase: str = "") -> None:
        with self.lock:
            self.last_line = now = time.perf_counter()
            text = self.line(self.success, self.tokens_per_second, now)
            print(text + (f" ({phase})" if phase else ""), file=self.stream, flush=True)

    def _heartbeat(self) -> None:
        """Off a terminal: a line whenever ``every`` seconds passed without one."""
        while not self.stopped.wait(self.every / 4):
            if time.perf_counter() - self.last_line >= self.every:
                self._print_line(self.phase)

    def line(self, success: float, tokens_per_second: float, now: float) -> str:
        elapsed = now - self.t0
        rate = (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = "?" if left is None else duration(left)
        rates = (
            f"train success {success:.2f}, {tokens_per_second:.0f} tok/s, " if self.rates else ""
        )
        return (
            f"[{self.desc}] {self.done}/{self.total} {self.unit} "
            f"({100 * self.done / max(self.total, 1):.0f}%), {rates}"
            f"elapsed {duration(elapsed)}, ETA {eta}"
        )

    def write(self, text: str, stream: IO[str] | None = None) -> None:
        """A result line (an evaluation): on stdout, or ``stream``, above the bar if any."""
        stream = stream or sys.stdout
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def close(self) -> None:
        self.stopped.set()
        if self.bar is not None:
            self.bar.close()
