"""Rendering: the static site (digest pages, archive, Atom, .ics, team pages) from Jinja
templates.
"""
