"""Kyso: neutral building blocks shared by the signer, the verifier and the service.

This package holds what every other part may import without importing each
other: the error root (:mod:`kyso.errors`), the typed settings
(:mod:`kyso.settings`), the command line (:mod:`kyso.cli`) and sample
documents for tests and benchmarks (:mod:`kyso.samples`).
"""

__version__ = "0.1.0"
