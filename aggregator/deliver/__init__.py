"""Delivery: what leaves the machine after rendering: e-mail digests and shared picks."""
