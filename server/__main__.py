"""`python -m server` is the same as the `videogen-mcp` command."""

import sys

from server.cli import main

sys.exit(main())
