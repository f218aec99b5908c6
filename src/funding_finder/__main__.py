"""`funding-finder` and `python -m funding_finder`: the CLI, with a Ctrl-C that comes while the
modules are still loading (the first half second) ending quietly with status 130, like one later."""

import sys


def run() -> None:
    try:
        from funding_finder.cli import main
    except KeyboardInterrupt:
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
