"""`python -m verify`: see verify/cli.py."""

from __future__ import annotations

import sys

from verify.cli import main

sys.exit(main())
