"""The hf_ser version (its own module so that any layer can read it without importing the package facade)."""

__version__ = "0.1.0"
