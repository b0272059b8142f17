"""`python -m server` is the same as the `mcp-videogen` command."""

import sys

from server.cli import main

sys.exit(main())
