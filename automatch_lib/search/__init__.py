"""Matching-network search: binary channel manipulation (bcm), bilevel optimisation, the DARTS-like cell.

Importing this package registers the searchable matching kinds ('bcm', 'bcm_operator', 'darts_cell') in
`automatch_lib.model.matching.MATCHING_KINDS`, the way a registry of plug-ins is filled.
"""
from . import bcm, darts_cell  # noqa: F401  (registration)
