"""Funding Finder: every perpetual's funding rate, normalized, collected under each venue's rate limit."""

__version__ = "0.1.0"
