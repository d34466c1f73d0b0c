"""Parsing: reading a fetched document (RSS/Atom via feedparser, JSON Feed, iCalendar, scraped
pages) into entries.
"""
