"""Matching-network search: binary channel manipulation (bcm), bilevel optimisation, DARTS-like cell, random search."""
