"""`python -m sovereign_engine --server URL --run ID [--rank R --world W]`: run one engine rank."""

import sys

from .train import main

sys.exit(main())
