"""Persistence: registers of outgoing and incoming documents, numbering, audit trail.

For now it holds the numbering store the issuing workflow needs
(:mod:`registers.numbering`); the registers issue builds the rest here.
"""
