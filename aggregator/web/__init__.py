"""The local web app: search, profile editing with live preview, sources; calls only the
application.
"""

from aggregator.web.app import create_app

__all__ = ["create_app"]
