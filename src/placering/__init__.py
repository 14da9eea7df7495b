"""placering: supplier register (utförarregister) and declarative placement matching."""

__version__ = "0.1.0"
