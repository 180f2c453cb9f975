"""Times as bp-helper prints them (token expiry), for the commands and the integrations alike."""

from __future__ import annotations

import math
import time


def format_time(epoch: float) -> str:
    """``epoch`` in local time, ``never`` for a token that does not expire."""
    if math.isinf(epoch):
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))


def relative(epoch: float) -> str:
    """How long until ``epoch`` ("in 2 h 5 min"), or ``expired``."""
    seconds = int(epoch - time.time())
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(seconds, 3600)
    return f"in {hours} h {rest // 60} min" if hours else f"in {rest // 60} min {rest % 60} s"
