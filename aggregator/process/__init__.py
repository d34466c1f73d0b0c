"""Processing: what an entry is (its item type) and when its event happens, decided from the
parsed evidence.

Pure logic, no I/O: the parsers call it on each entry they read, because the evidence
(enclosures, JSON-LD, calendar fields) is format-specific and gone once parsing ends."""
