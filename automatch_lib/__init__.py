"""AutoMatch, reproducible: matching operators, binary channel manipulation, bilevel search, a Siamese tracker."""
__version__ = "0.1.0"
