"""The applications on top of the library: the ``hf-ser`` command line and the Gradio demo.

All argument parsing lives here; the library modules below expose plain functions.

- :mod:`~hf_ser.app.cli`: ``hf-ser`` and its subcommands.
- :mod:`~hf_ser.app.publish`, :mod:`~hf_ser.app.report`: the flags of ``hf-ser publish`` /
  ``publish-space`` and ``hf-ser report``.
- :mod:`~hf_ser.app.demo`: the Gradio app of ``hf-ser demo`` and the Hub Space.
"""
