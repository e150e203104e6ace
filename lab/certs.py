"""A certificate authority made at run time, for https origins on loopback.

Nothing is committed or reused: each run makes a CA and one leaf certificate for
`localhost` and `*.localhost` in a temporary folder, which is deleted when the
run's servers stop. Browsers driven by the lab are told to accept the lab's
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


class LocalCA:
    """A CA and a leaf certificate for loopback names; `context()` is a server-side TLS context."""

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        self.directory = Path(tempfile.mkdtemp(prefix="cors-lab-ca-"))
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cors-lab run-time CA")])
        ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .sign(ca_key, hashes.SHA256()))
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName("localhost"), x509.DNSName("*.localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        leaf_cert = (x509.CertificateBuilder()
                     .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                     .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
                     .add_extension(x509.SubjectAlternativeName(names), critical=False)
                     .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                     .sign(ca_key, hashes.SHA256()))
        self.ca_path = self.directory / "ca.pem"
        self.cert_path = self.directory / "localhost.pem"
        self.key_path = self.directory / "localhost-key.pem"
        self.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        self.cert_path.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM)
                                   + ca_cert.public_bytes(serialization.Encoding.PEM))
        self.key_path.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_path), str(self.key_path))
        return context

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
