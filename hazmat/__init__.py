"""Hazardous materials: changes to other libraries' internals, named as such.

Each module here patches a third-party library for speed or correctness, is guarded by the
version it was written and tested against, and is installed explicitly by the composition root
(``office.compose``), never as a side effect of an import:

* :mod:`hazmat.pyhanko_hexreader`: pyHanko's hex-string reader, one read per string instead of
  one Python call per character (same results; ``tests/test_pdfspeed.py`` proves it).
* :mod:`hazmat.pyhanko_tokens`: pyHanko's token reader (names, keywords, numbers), one read per
  token instead of one Python call per byte, and its name writer, one write per name (same results
  and bytes; ``tests/test_pdfspeed.py``).
* :mod:`hazmat.pyhanko_objects`: pyHanko's dictionary reader, one pass over a chunk for the
  common case, pyHanko's own (bounded) reader for everything else (same objects, errors and stream
  position; ``tests/test_pdfspeed.py``). Installed after, and uninstalled before, the bounds.
* :mod:`hazmat.pyhanko_xref`: pyHanko's cross-reference table and object header readers, one
  regular expression for the well-formed case, pyHanko's own for anything else (same entries,
  errors and stream positions; ``tests/test_pdfobjects.py``).
* :mod:`hazmat.pyhanko_prehash`: pyHanko's byte-range digest may start from the hash of the
  document's original bytes, worked out on the other core while pyHanko writes (``signer.prehash``;
  the same digest; ``tests/test_prehash.py``).
* :mod:`hazmat.pyhanko_bounds`: bounds on pyHanko's array length and nesting depth, so that a
  hostile file is refused as unreadable in milliseconds (``tests/test_bounds.py``).
* :mod:`hazmat.asn1crypto_names`: asn1crypto's RFC 5280 name comparison remembered by the names'
  DER (a pure function of those bytes; ``tests/test_pathcache.py`` runs with it).
* :mod:`hazmat.pyhanko_paths`: the place in pyHanko's signature validation where a validated
  certificate path is recalled (``verifier.pathcache`` decides what may be;
  ``tests/test_pathcache.py`` proves reports unchanged).
* :mod:`hazmat.pyhanko_certinfo`: the signer's certificate extracted from a signature's container
  once per validation instead of twice (``tests/test_pdfspeed.py``).
* :mod:`hazmat.pyhanko_revinfo`: a path for which no revocation information could be found is
  INDETERMINATE/TRY_LATER, as ETSI EN 319 102-1 says, not CERTIFICATE_CHAIN_GENERAL_FAILURE
  (``tests/test_revinfo_missing.py``).
* :mod:`hazmat.pyhanko_moddate`: the modification date pyHanko's writer stamps on an update comes
  from the operation's clock (``kyso.clock.operation``), not the wall clock
  (``tests/test_sign_levels.py``).

:func:`stock` undoes them all for a block (benchmarks measure stock pyHanko with it).
"""


def stock():
    """``with hazmat.stock():`` runs a block on the libraries as released, then puts every patch
    that was installed back (benchmarks measure stock pyHanko this way)."""
    import contextlib

    from hazmat import (asn1crypto_names, pyhanko_bounds, pyhanko_certinfo, pyhanko_hexreader, pyhanko_moddate,
                        pyhanko_objects, pyhanko_paths, pyhanko_prehash, pyhanko_revinfo, pyhanko_tokens,
                        pyhanko_xref)

    @contextlib.contextmanager
    def block():
        # taken out in this order, put back in the reverse one (the fast dictionary reader sits in
        # front of the bounded one)
        patches = [m for m in (asn1crypto_names, pyhanko_objects, pyhanko_bounds, pyhanko_certinfo, pyhanko_hexreader,
                               pyhanko_moddate, pyhanko_paths, pyhanko_prehash, pyhanko_revinfo, pyhanko_tokens,
                               pyhanko_xref)
                   if m.installed()]
        memory_of, share, moment_of = pyhanko_paths._memory_of, pyhanko_certinfo._share, pyhanko_moddate._moment_of
        digest_of = pyhanko_prehash._digest_of
        for module in patches:
            module.uninstall()
        try:
            yield
        finally:
            for module in reversed(patches):
                if module is pyhanko_paths:
                    module.install(memory_of)
                elif module is pyhanko_certinfo:
                    module.install(share)
                elif module is pyhanko_moddate:
                    module.install(moment_of)
                elif module is pyhanko_prehash:
                    module.install(digest_of)
                else:
                    module.install()

    return block()
