"""`python -m search.engine`: the engine from the command line (search/engine/cli.py)."""

from search.engine.cli import main

if __name__ == "__main__":  # importing the module (pkgutil.walk_packages does) runs nothing
    raise SystemExit(main())
