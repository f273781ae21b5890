"""A world's own certificate authority and the backend's HTTPS certificate, made with `cryptography`.

The real daemon calls the model only over HTTPS: workspace routing discovery (`wham/accounts/check`) names the
origin its model requests go to, and 0.169.0 refuses any origin that is not `https://` ("workspace backend must use
an HTTPS origin without credentials"). So the backend also listens with TLS on loopback, under a certificate signed
by a CA made for this world alone; each Mac trusts that CA through `CODEX_CA_CERTIFICATE`, the variable the real
binary reads for a custom CA bundle. Nothing is trusted system-wide and the keys never leave the world's folder.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The variable the real daemon reads for a PEM bundle of extra roots (it also honours SSL_CERT_FILE).
CA_ENVIRONMENT_VARIABLE = "CODEX_CA_CERTIFICATE"
VALIDITY = datetime.timedelta(days=2)
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class WorldTls:
    """Where a world's CA and the backend's certificate live on disk."""

    ca_file: Path  # the CA certificate (PEM): what a Mac trusts
    certificate_file: Path  # the backend's certificate chain (PEM)
    key_file: Path  # its private key (PEM, mode 0600)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this world's CA only."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_world_tls(folder: Path, *, now: datetime.datetime | None = None,
                   addresses: tuple[str, ...] = (LOOPBACK,)) -> WorldTls:
    """A fresh CA and a certificate for 127.0.0.1 (or the `addresses` given) signed by it, written into `folder`.

    Validity is measured from the real time, not the scenario's clock: the daemon checks certificates against the
    machine's clock, which scenarios cannot move.
    """
    folder.mkdir(parents=True, exist_ok=True)
    start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pairsim world CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, addresses[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    tls = WorldTls(folder / "ca.pem", folder / "backend.pem", folder / "backend.key")
    tls.ca_file.write_bytes(ca_pem)
    tls.certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + ca_pem)
    tls.key_file.touch(mode=0o600)
    tls.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return tls
