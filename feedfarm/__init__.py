"""feedfarm: deterministic synthetic feed corpus + local fault-injecting feed server (stdlib only)."""

__version__ = "0.1.0"
