"""``python -m hf_ser ...`` is the ``hf-ser`` command line (:func:`hf_ser.cli.main`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
