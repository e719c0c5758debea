"""The library's logger: ``logging.getLogger("skilltroc_core")``, and nothing else.

What it tells (docs/hosting.md, "Logging"): commands run again after meeting another unit
of work (INFO), store migrations (INFO), cache drops after another process's commit
(DEBUG), deadlines applied by ``run_due`` (INFO, each at DEBUG), purges (INFO). Never a
password, a token, a hash or an email: records name members, workshops and sessions by
their ids only, and never show a command's arguments. The library adds no handler: the
host decides where records go (``logging.basicConfig`` or its own configuration).
"""

from __future__ import annotations

import logging
from typing import Final

__all__ = ["LOGGER"]

#: Every record of the library goes through this logger (or a child of it).
LOGGER: Final = logging.getLogger("skilltroc_core")
