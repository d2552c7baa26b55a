"""Hazardous materials: changes to other libraries' internals, named as such.

Each module here patches a third-party library for speed or correctness, is guarded by the
version it was written and tested against, and is installed explicitly by the composition root
(``office.compose``), never as a side effect of an import:

* :mod:`hazmat.pyhanko_hexreader`: pyHanko's hex-string reader, one read per string instead of
  one Python call per character (same results; ``tests/test_pdfspeed.py`` proves it).
* :mod:`hazmat.pyhanko_bounds`: bounds on pyHanko's array length and nesting depth, so that a
  hostile file is refused as unreadable in milliseconds (``tests/test_bounds.py``).
"""
