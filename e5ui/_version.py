"""The package version, in a module of its own so the lowest layers (``textio``) can name it
without depending on the package facade (which offers the encoder and the cache)."""

__version__ = "0.2.0"
