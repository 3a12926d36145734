"""Progress for long work: a spinner with the elapsed time on stderr when it is a terminal.

Nothing is shown when stderr is piped or redirected (CI logs, ``2>file``), or with ``--quiet``:
only a person watching gets the spinner, and no escape sequence is ever written (the line is
cleared with spaces), so ``--no-color`` and ``NO_COLOR`` output stays plain either way.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

FRAMES = "|/-\\"


class Progress:
    """``with Progress("Counting rows"):`` shows ``| Counting rows… 3.2 s`` while the block runs.

    ``enabled``: default ``stream.isatty()``; ``quiet`` turns it off. The display is refreshed
    every ``interval`` seconds by a daemon thread and erased when the block ends.
    """

    def __init__(
        self,
        text: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        quiet: bool = False,
        interval: float = 0.1,
    ) -> None:
        self.text = text
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled and not quiet
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0

    def _draw(self, frame: int, started: float) -> None:
        line = f"{FRAMES[frame % len(FRAMES)]} {self.text}… {time.monotonic() - started:.1f} s"
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(line))

    def _spin(self) -> None:
        started = time.monotonic()
        frame = 0
        while True:
            self._draw(frame, started)
            frame += 1
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._spin, name="mlops-iac-progress")
            self._thread.daemon = True
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self.stream.write("\r" + " " * self._width + "\r")
        self.stream.flush()
