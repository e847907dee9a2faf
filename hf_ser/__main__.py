"""``python -m hf_ser ...`` is the ``hf-ser`` command line (:func:`hf_ser.app.cli.main`)."""

import sys

from .app.cli import main

if __name__ == "__main__":
    sys.exit(main())
