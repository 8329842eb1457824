"""``python -m voxtral_integrations``: the ``voxtral`` command."""

import sys

from .cli import main

sys.exit(main())
