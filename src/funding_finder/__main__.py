"""`funding-finder` and `python -m funding_finder`: the CLI. Until a command puts its own Ctrl-C
handling in place, a Ctrl-C ends the process at once with status 130: one that lands while modules
are loading would otherwise print a traceback, or leave an import lock held that worker threads
then wait on forever."""

import os
import signal
import sys
from typing import Any


def _exit_130(_signum: int, _frame: Any) -> None:
    os._exit(130)


def run() -> None:
    signal.signal(signal.SIGINT, _exit_130)
    try:
        from funding_finder.cli import main
    except KeyboardInterrupt:  # a Ctrl-C that came before the handler above
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
