"""Development certificates: the gateway's self-signed S/MIME and TLS identities and a demo CA.

Production deployments bring their own certificates (see README); these exist so that a newcomer's
walk-through works with nothing else installed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=825)


@dataclass(frozen=True)
class Identity:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attrs)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _leaf_usage(builder: x509.CertificateBuilder, *, encipher: bool) -> x509.CertificateBuilder:
    return builder.add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    ).add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=encipher,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )


def gateway_smime_identity(domain: str, submission_address: str) -> Identity:
    """Self-signed S/MIME certificate for the gateway's domain carrying its submission address."""
    key = new_rsa_key()
    name = _name(domain, "Asiointitili gateway (development)")
    builder = (
        _leaf_usage(_builder(name, name, key), encipher=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.RFC822Name(submission_address), x509.DNSName(domain)]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    )
    return Identity(builder.sign(key, hashes.SHA256()), key)


def tls_identity(hostname: str) -> Identity:
    """Self-signed certificate for the SMTP listener's STARTTLS (development)."""
    key = new_rsa_key()
    name = _name(hostname)
    builder = (
        _leaf_usage(_builder(name, name, key), encipher=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    return Identity(builder.sign(key, hashes.SHA256()), key)


def certificate_authority(common_name: str, organisation: str) -> Identity:
    key = new_rsa_key()
    name = _name(common_name, organisation)
    builder = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return Identity(builder.sign(key, hashes.SHA256()), key)


def clerk_identity(ca: Identity, address: str, display_name: str) -> Identity:
    """An S/MIME signing certificate for a clerk, issued by `ca`."""
    key = new_rsa_key()
    builder = (
        _leaf_usage(_builder(_name(display_name), ca.certificate.subject, key), encipher=True)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    return Identity(builder.sign(ca.key, hashes.SHA256()), key)
