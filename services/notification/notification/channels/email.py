"""E-mail over SMTP, with the standard library's smtplib run in a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from notification.channels.base import Channel, DeliveryFailed, OutgoingMessage
from notification.config import NotificationSettings

MESSAGE_ID_DOMAIN = "sunshine.fenghua-redcross.local"


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = message.address
    mail["Date"] = format_datetime(message.created_at)
    # Stable per delivery: a receiving system can drop the duplicate of a resent message.
    mail["Message-ID"] = f"<{message.delivery_id}@{MESSAGE_ID_DOMAIN}>"
    mail["X-Sunshine-Notice"] = str(message.notice_id)
    mail.set_content(message.body, charset="utf-8")
    return mail


class SmtpEmailChannel(Channel):
    name = "email"
    contact = "email"

    def __init__(self, settings: NotificationSettings) -> None:
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._username = settings.smtp_username
        self._password = settings.smtp_password
        self._starttls = settings.smtp_starttls
        self._sender = settings.smtp_from
        self._timeout = settings.smtp_timeout_s

    async def send(self, message: OutgoingMessage) -> None:
        if not valid_address(message.address):
            raise DeliveryFailed("invalid e-mail address", permanent=True)
        mail = build_email(message, self._sender)
        await asyncio.to_thread(self._send_sync, mail)

    def _send_sync(self, mail: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    password = self._password.get_secret_value() if self._password else ""
                    smtp.login(self._username, password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(
                f"recipient refused: {codes}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP unavailable: {type(exc).__name__}: {exc}") from exc


def valid_address(address: str) -> bool:
    try:
        parsed = Address(addr_spec=address.strip())
    except (ValueError, IndexError, HeaderParseError):
        return False
    return bool(parsed.username and parsed.domain)
