"""``learnplace serve``: the local web app (search, profile editing, source health)."""

from __future__ import annotations

import click
import uvicorn

from aggregator.app import Application
from aggregator.cli.app import cli
from aggregator.cli.terminal import clean, echo
from aggregator.errors import InsecureBindError
from aggregator.web import create_app


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="LEARNPLACE_TOKEN",
    help="Access token every request must carry (required beyond loopback; or LEARNPLACE_TOKEN).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    envvar="LEARNPLACE_ALLOWED_HOSTS",
    metavar="NAME",
    help="Another name the app answers to, such as a reverse proxy's (repeatable; or "
    "LEARNPLACE_ALLOWED_HOSTS, space-separated). Loopback names and HOST always are.",
)
@click.pass_obj
def serve(
    app: Application, host: str, port: int, token: str | None, allowed_hosts: tuple[str, ...]
) -> None:
    """Serve output/ with search, profile editing and source health at http://HOST:PORT/.

    Requests must name the app by an allowed host (see --allowed-host): a web page
    whose own name was pointed at this machine (DNS rebinding) is refused.
    """
    try:
        asgi = create_app(app, host=host, token=token, extra_hosts=allowed_hosts)
    except InsecureBindError as exc:
        raise click.ClickException(clean(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    if token:
        echo(f"Open http://{shown}:{port}/login?token=… (the token you gave) to sign in.")
    else:
        echo(f"Learnplace is at http://{shown}:{port}/ (Ctrl+C stops it).")
    uvicorn.run(asgi, host=host, port=port, log_level="warning")
