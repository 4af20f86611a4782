"""A real Mosquitto secured the way a hub runs it: TLS with the hub's CA, its password and ACL files."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path

from cloud.onboarding.broker import BrokerAccount, BrokerFiles, hash_password, mosquitto_config
from cloud.onboarding.pki import create_ca, issue_server_cert
from tests.servers import free_port
from tests.waiting import port_open, wait_until

HUB_USER, HUB_PASSWORD = "tf-hub", "hub-broker-passphrase"


class SecureMosquitto:
    """Mosquitto on a free 127.0.0.1 port: TLS (certificate for 127.0.0.1 and localhost), no anonymous clients.

    ``files`` are the hub-managed password and ACL files (reload by SIGHUP
    through the pid file); ``ca`` is the CA certificate kits carry.
    """

    def __init__(self, workdir: Path, tls: bool = True, hosts: list[str] | None = None) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise RuntimeError("mosquitto is not installed; ./run.sh test installs it")
        self.dir = workdir
        self.ca, self.ca_key = create_ca(workdir / "pki")
        cert = issue_server_cert(self.ca, self.ca_key, hosts or ["127.0.0.1", "localhost"], workdir / "pki") if tls else None
        self.port = free_port()
        self.tls = tls
        self.files = BrokerFiles(workdir / "passwd", workdir / "acl", pid_file=workdir / "mosquitto.pid")
        self.hub_account = BrokerAccount(HUB_USER, hash_password(HUB_USER, HUB_PASSWORD))
        self.files.write([self.hub_account])  # no pid file yet: nothing to signal
        conf = mosquitto_config([("127.0.0.1", self.port)], self.files.passwd_file, self.files.acl_file, tls=cert,
                                pid_file=self.files.pid_file,
                                # as root Mosquitto would switch to user 'mosquitto', who cannot read this tmp dir
                                extra=f"user {getpass.getuser()}\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n"
                                      "log_type notice\n")
        (workdir / "mosquitto.conf").write_text(conf)
        self.log = open(workdir / "mosquitto.log", "wb")
        self.proc = subprocess.Popen([exe, "-c", str(workdir / "mosquitto.conf")], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_until(lambda: port_open(self.port), 10, what=f"secured Mosquitto on 127.0.0.1:{self.port}")
        wait_until(self.files.pid_file.exists, 10, what="Mosquitto's pid file")

    @property
    def url(self) -> str:
        """``mqtts://127.0.0.1:port`` (or ``mqtt://`` without TLS)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        """What the broker logged so far."""
        self.log.flush()
        return (self.dir / "mosquitto.log").read_text(errors="replace")

    def stop(self) -> None:
        """Terminate the broker."""
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
