"""A certificate authority made at run time, for https origins on loopback.

Nothing is committed or reused: each run makes a CA, a leaf certificate for
`localhost` and `*.localhost`, and one for each real host name it serves
(`app.example.com`), in a temporary folder that is deleted when the run's
servers stop. Browsers driven by the lab are told to accept the lab's
certificates (Playwright's `ignore_https_errors`, WebDriver's `acceptInsecureCerts`),
so pages on https origins are secure contexts and `Secure` cookies are real.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

from .scenario.model import is_localhost_name


class LocalCA:
    """A CA and leaf certificates signed by it: one for loopback names, one per real host name served as written
    (`https://app.example.com`); `context(host)` is a server-side TLS context for that host."""

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.directory = Path(tempfile.mkdtemp(prefix="cors-lab-ca-"))
        self._now = datetime.datetime.now(datetime.timezone.utc)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cors-lab run-time CA")])
        self._ca_cert = (
            x509.CertificateBuilder()
            .subject_name(self._ca_name)
            .issuer_name(self._ca_name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )
        self._contexts: Dict[str, ssl.SSLContext] = {}
        self.ca_path = self.directory / "ca.pem"
        self.ca_path.write_bytes(self._pem(self._ca_cert))
        self.cert_path, self.key_path = self._leaf("localhost", ["localhost", "*.localhost"], ["127.0.0.1"])

    @staticmethod
    def _pem(certificate: object) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return certificate.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined]

    def _leaf(self, stem: str, dns_names: List[str], addresses: List[str]) -> Tuple[Path, Path]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        names: List[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, stem)]))
            .issuer_name(self._ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        cert_path, key_path = self.directory / f"{stem}.pem", self.directory / f"{stem}-key.pem"
        cert_path.write_bytes(self._pem(certificate) + self._pem(self._ca_cert))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_path, key_path

    def context(self, host: str = "localhost") -> ssl.SSLContext:
        """A server context whose certificate names `host` (loopback names share one certificate)."""
        loopback = is_localhost_name(host) or host == "127.0.0.1"
        key = "localhost" if loopback else host
        if key not in self._contexts:
            if loopback:
                cert_path, key_path = self.cert_path, self.key_path
            else:
                is_address = all(part.isdigit() for part in host.split("."))
                cert_path, key_path = self._leaf(host, [] if is_address else [host], [host] if is_address else [])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert_path), str(key_path))
            self._contexts[key] = context
        return self._contexts[key]

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
