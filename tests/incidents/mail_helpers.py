"""Email in's tests: messages as mail clients write them, and a real IMAP server
(Debian's dovecot-imapd) on a free port with a throwaway mail store and passdb."""

import getpass
import imaplib
import os
import shutil
import subprocess
import tempfile
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from tests.processes.harness import free_port, wait_for
from tests.system import need_program

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def message(*, sender="rita@example.com", subject="Printer on fire", body="It smokes.\n", html=None,
            message_id=None, headers=None, attachments=(), to="desk@example.com"):  # fmt: skip
    """A message's bytes: text, HTML (alone when body is None, or as the alternative),
    attachments as (name, content type, bytes)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = message_id or make_msgid(domain="client.example")
    for name, value in (headers or {}).items():
        mail[name] = value
    if body is None:
        mail.set_content(html, subtype="html")
    else:
        mail.set_content(body)
        if html is not None:
            mail.add_alternative(html, subtype="html")
    for name, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes()


CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
first_valid_uid = 1
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
"""


class Dovecot:
    """A private dovecot: one mailbox (`user`, `password`), maildir in a fresh folder."""

    user, password = "desk", "secret-pass"

    def __init__(self):
        self.binary = need_program("dovecot", package="dovecot-imapd", paths=["/usr/sbin/dovecot"])
        if not Path("/usr/lib/dovecot/imap").exists():
            need_program("imap (dovecot)", package="dovecot-imapd")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fb-dovecot-"))
        self.process = None

    @property
    def url(self):
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def start(self):
        root = self.root
        for sub in ("run", "state", "mail", "home"):
            (root / sub).mkdir()
        (root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        if os.geteuid() == 0:  # dovecot's own unprivileged users hold the mail and the logins
            user = group = internal = "dovecot"
            login = "dovenull"
            root.chmod(0o755)
            for sub in ("mail", "home"):
                shutil.chown(root / sub, user, group)
        else:
            user = internal = login = getpass.getuser()
            group = os.getgid()
        (root / "dovecot.conf").write_text(CONFIG.format(
            root=root, port=self.port, user=user, group=group, internal=internal, login=login,
        ))  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603 (our own arguments)
            [self.binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(self._answers, 20, "dovecot to start")
        return self

    def _answers(self):
        try:
            conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=2)
            conn.login(self.user, self.password)
            conn.logout()
            return True
        except (OSError, imaplib.IMAP4.error):
            return False

    def connect(self):
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def deliver(self, messages, folder="INBOX"):
        conn = self.connect()
        try:
            for raw in messages:
                kind, data = conn.append(folder, None, None, raw)
                assert kind == "OK", data
        finally:
            conn.logout()

    def messages(self, folder):
        """The raw messages in `folder` (not deleted), oldest first."""
        conn = self.connect()
        try:
            kind, _ = conn.select(f'"{folder}"', readonly=True)
            if kind != "OK":
                return []
            uids = conn.uid("SEARCH", None, "UNDELETED")[1][0].split()
            found = []
            for uid in uids:
                data = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")[1]
                found += [item[1] for item in data if isinstance(item, tuple)]
            return found
        finally:
            conn.logout()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
