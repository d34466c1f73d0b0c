"""Learnplace: personal digests of learning opportunities."""

__version__ = "0.1.0"
