"""E-mail digests: building a message (pure) and handing it to an SMTP server (network I/O).

Sending is the only network I/O outside ``fetch``, so it lives here alone:
``build_message`` takes bodies rendered by :mod:`aggregator.render.site` and
returns a standard :class:`email.message.EmailMessage`; ``send_message``
opens one SMTP session per message and turns every failure into a
:class:`MailError` the pipeline records per person.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from aggregator.errors import MailError
from aggregator.models import SmtpSettings


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    sent_at: datetime,
    message_id_domain: str = "learnplace.invalid",
) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML as the richer part."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    message["Date"] = format_datetime(sent_at)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send_message(settings: SmtpSettings, message: EmailMessage) -> None:
    """Deliver ``message`` through ``settings``; any failure becomes :class:`MailError`."""
    password = None
    if settings.password_env:
        password = os.environ.get(settings.password_env)
        if password is None:
            raise MailError(
                f"environment variable {settings.password_env} (SMTP password) is unset"
            )
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"{settings.host}:{settings.port}: {exc}") from exc
