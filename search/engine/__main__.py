"""`python -m search.engine`: the engine from the command line (search/engine/cli.py)."""

from search.engine.cli import main

raise SystemExit(main())
