"""Configuration: feeds.toml and the profiles, read whole and checked, and edited in place
keeping comments.
"""
