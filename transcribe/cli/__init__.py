"""The command line: `transcribe COMMAND`. The group, its options and its errors are in
app.py; the commands in stages.py (the job and its stages) and tools.py (the rest).

Exit codes: 0 all done; 1 some episodes or sources failed (the rest done); 2 bad usage or
config. Errors a user can act on are one line; --verbose adds the traceback.
"""

from . import stages, tools  # noqa: F401 - each registers its commands on the group
from .app import cli, main

__all__ = ["cli", "main"]
