"""bp-helper's debug lines and warnings in a program's own ``logging``: the logger
``bp_helper``, for programs that use bp-helper as a library.

The library entry points call :func:`use_logging`; the executables never import this module,
so they do not pay for importing ``logging``.
"""

from __future__ import annotations

import logging

from bp_helper import log

LOGGER = logging.getLogger("bp_helper")


def use_logging() -> None:
    """Debug lines and warnings go to the logger ``bp_helper`` too, from now on (redacted,
    as on stderr).

    Explicit rather than "whenever ``logging`` is imported": a module another thread is still
    importing is in ``sys.modules`` half made (a burst of threads hit exactly that).
    """
    if log._logger is None:
        if not LOGGER.handlers:  # a library's logger: no output unless the program asks for it
            LOGGER.addHandler(logging.NullHandler())
        log.to_logging(LOGGER)
