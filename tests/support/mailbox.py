"""The SMTP pickup folder, read as the IIS SMTP service would: envelope lines, then the message."""

import glob
import os
import re
from email import message_from_bytes, policy


class Mailbox:
    def __init__(self, folder):
        self.folder = folder

    def files(self):
        return sorted(glob.glob(os.path.join(self.folder, "*.eml")), key=os.path.getmtime)

    def messages(self):
        result = []
        for path in self.files():
            with open(path, "rb") as f:
                raw = f.read()
            envelope, message = raw.split(b"\r\n", 2)[:2], raw.split(b"\r\n", 2)[2]
            result.append(Mail(raw, envelope, message_from_bytes(message, policy=policy.SMTP)))
        return result

    def last(self):
        messages = self.messages()
        assert messages, "no mail in the pickup folder"
        return messages[-1]

    def last_link(self, to=None):
        for mail in reversed(self.messages()):
            if to is None or mail.message["To"] == to:
                return mail.link
        raise AssertionError(f"no mail to {to}")


class Mail:
    def __init__(self, raw, envelope, message):
        self.raw, self.envelope, self.message = raw, envelope, message

    @property
    def text(self):
        return self.message.get_body(("plain",)).get_content()

    @property
    def link(self):
        match = re.search(r"https?://\S+/link/\S+", self.text)
        return match.group(0) if match else None
