"""The phone's device key and the challenge/proof exchange on the phone's relay socket.

The backend opens every phone socket with a `device_key_challenge`; the phone answers with a `device_key_proof`: an
ECDSA P-256 / SHA-256 signature over the canonical JSON of the challenge, made with the key it registered when it
claimed the pairing code. Binding the signature to the whole challenge (nonce, session, origin, client id) is what
makes a recorded proof useless on another socket.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from simulators.protocol.errors import ErrorCode, PairsimError, ProtocolError

ALGORITHM = "ecdsa_p256_sha256"
AUDIENCE = "remote_control_client_websocket"
NONCE_BYTES = 32


class DeviceProofRejected(PairsimError):
    code = ErrorCode.DEVICE_PROOF_REJECTED


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{what} is not valid base64") from exc


def key_id_for(public_key_der: bytes) -> str:
    return "p256:" + b64url(hashlib.sha256(public_key_der).digest())


def _require_str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"field `{key}` must be a non-empty string")
    return value


@dataclass(frozen=True)
class DeviceKeyChallenge:
    nonce: str
    session_id: str
    target_origin: str
    client_id: str
    issued_at: int
    audience: str = AUDIENCE

    def canonical_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "device_key_challenge",
            "nonce": self.nonce,
            "audience": self.audience,
            "sessionId": self.session_id,
            "targetOrigin": self.target_origin,
            "clientId": self.client_id,
            "issuedAt": self.issued_at,
        }

    @classmethod
    def from_json(cls, obj: object) -> DeviceKeyChallenge:
        if not isinstance(obj, dict) or obj.get("type") != "device_key_challenge":
            raise ProtocolError("expected a device_key_challenge object")
        issued_at = obj.get("issuedAt")
        if not isinstance(issued_at, int) or isinstance(issued_at, bool):
            raise ProtocolError("field `issuedAt` must be an integer")
        return cls(
            nonce=_require_str(obj, "nonce"),
            session_id=_require_str(obj, "sessionId"),
            target_origin=_require_str(obj, "targetOrigin"),
            client_id=_require_str(obj, "clientId"),
            issued_at=issued_at,
            audience=_require_str(obj, "audience"),
        )


@dataclass(frozen=True)
class DeviceKeyProof:
    key_id: str
    signed_payload_base64: str
    signature_der_base64: str
    algorithm: str = ALGORITHM

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "device_key_proof",
            "keyId": self.key_id,
            "algorithm": self.algorithm,
            "signedPayloadBase64": self.signed_payload_base64,
            "signatureDerBase64": self.signature_der_base64,
        }

    @classmethod
    def from_json(cls, obj: object) -> DeviceKeyProof:
        if not isinstance(obj, dict) or obj.get("type") != "device_key_proof":
            raise ProtocolError("expected a device_key_proof object")
        return cls(
            key_id=_require_str(obj, "keyId"),
            algorithm=_require_str(obj, "algorithm"),
            signed_payload_base64=_require_str(obj, "signedPayloadBase64"),
            signature_der_base64=_require_str(obj, "signatureDerBase64"),
        )


class DeviceKey:
    """A phone's long-term P-256 key. The private half never leaves this object."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("device keys are P-256")
        self._private_key = private_key
        self.public_key_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = key_id_for(self.public_key_der)

    @classmethod
    def generate(cls) -> DeviceKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    def keep_in(self, path: Path) -> None:
        """Write the key to the phone's keychain file (mode 0600 from its first byte), where it outlives the app's
        process and never goes into a device backup."""
        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)

    @classmethod
    def kept_in(cls, path: Path) -> DeviceKey | None:
        """The key a phone kept in its keychain file, or None when it has none yet."""
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError:
            return None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ProtocolError("the phone's keychain holds no EC device key")
        return cls(key)

    @property
    def public_key_base64(self) -> str:
        return base64.b64encode(self.public_key_der).decode("ascii")

    def prove(self, challenge: DeviceKeyChallenge) -> DeviceKeyProof:
        payload = challenge.canonical_bytes()
        signature = self._private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
        return DeviceKeyProof(
            key_id=self.key_id,
            signed_payload_base64=base64.b64encode(payload).decode("ascii"),
            signature_der_base64=base64.b64encode(signature).decode("ascii"),
        )


def load_public_key(public_key_base64: str) -> ec.EllipticCurvePublicKey:
    der = _b64decode(public_key_base64, "device public key")
    try:
        key = serialization.load_der_public_key(der)
    except ValueError as exc:
        raise ProtocolError("device public key is not a DER SubjectPublicKeyInfo") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ProtocolError("device public key must be an EC P-256 key")
    return key


def verify_proof(challenge: DeviceKeyChallenge, proof: DeviceKeyProof, registered_public_key_base64: str) -> None:
    """Accept the proof only if the registered key signed exactly this challenge; raise DeviceProofRejected."""
    public_key = load_public_key(registered_public_key_base64)
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if proof.algorithm != ALGORITHM:
        raise DeviceProofRejected(f"unsupported device proof algorithm {proof.algorithm!r}")
    if proof.key_id != key_id_for(der):
        raise DeviceProofRejected("device proof key id does not match the registered device key")
    try:
        payload = base64.b64decode(proof.signed_payload_base64, validate=True)
        signature = base64.b64decode(proof.signature_der_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DeviceProofRejected("device proof is not valid base64") from exc
    if payload != challenge.canonical_bytes():
        # A proof made for another challenge (an old socket, another session) is a replay.
        raise DeviceProofRejected("device proof was not made for this challenge")
    try:
        public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise DeviceProofRejected("device proof signature is invalid") from exc
