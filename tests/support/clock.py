"""The one test clock: the stores read it instead of time.time, and tests move it forward."""

import time


class Clock:
    def __init__(self, now: float | None = None):
        self.now = float(int(time.time())) if now is None else now  # whole seconds: expiries are exact

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
