from __future__ import annotations

import sys

from transform.cli import main

sys.exit(main())
