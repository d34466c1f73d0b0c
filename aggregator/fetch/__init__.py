"""Fetching: bounded HTTP with conditional GET, feed discovery, and when to fetch each source
again.
"""
