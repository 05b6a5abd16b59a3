"""Plain-text email over SMTP (STARTTLS and AUTH when configured)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from truecourse.alerting.notification import Notification
from truecourse.alerting.notify.base import Outcome
from truecourse.config.alerting import EmailConfig


def message(cfg: EmailConfig, n: Notification) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = n.title()
    msg["From"] = cfg.from_
    msg["To"] = ", ".join(cfg.to)
    msg.set_content(n.text() + "\n")
    return msg


class EmailNotifier:
    integration = "email"

    def __init__(self, cfg: EmailConfig, timeout: float) -> None:
        self.cfg, self.timeout = cfg, timeout

    def notify(self, notification: Notification) -> Outcome:
        if notification.status == "acknowledged":
            return False, None
        cfg = self.cfg
        try:
            with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=self.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls()
                if cfg.username:
                    smtp.login(cfg.username, cfg.password or "")
                smtp.send_message(message(cfg, notification))
        except smtplib.SMTPResponseException as exc:
            # 4xx is transient by SMTP's own definition, 5xx permanent
            return 400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        except smtplib.SMTPRecipientsRefused as exc:
            return False, f"recipients refused: {sorted(exc.recipients)}"
        except (smtplib.SMTPException, OSError) as exc:
            return True, f"{type(exc).__name__}: {exc}"
        return False, None
