"""Keys, signers and verifiers, and DSSE envelopes signed with them.

Everything that signs in Ordinance (the audit log, approvals, waivers, VSAs) goes through the
:class:`Signer` protocol, so a KMS or Sigstore signer can replace the local Ed25519 key
later without touching callers. Verification goes through :class:`Verifier`.

Key identity follows C2SP signed-note: a key has a *name* (e.g. ``ordinance.local/acme``), a
signature type (``0x01`` Ed25519 note signature, ``0x04`` Ed25519 cosignature/v1) and a key ID
``SHA-256(name || 0x0A || sigtype || pubkey)[:4]``. The *vkey* string
``<name>+<8 hex key ID>+<base64(sigtype || pubkey)>`` is all a verifier needs.

Private key files are PKCS#8 PEM (optionally passphrase-encrypted) preceded by two header
lines naming the key and its signature type; they are created 0600 and never overwritten.

DSSE (Dead Simple Signing Envelope, v1): ``sig = Sign(PAE(payloadType, payload))`` with
``PAE(t, b) = "DSSEv1" SP len(t) SP t SP len(b) SP b``. Envelopes serialize to RFC 8785
canonical JSON, and verification hands back exactly the payload bytes that were verified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# libsodium (PyNaCl): Ed25519 verification ~2x faster than OpenSSL through `cryptography`
from nacl.bindings import crypto_sign_open as _sodium_open
from nacl.exceptions import BadSignatureError as _SodiumBadSignature

from ordinance._canonical import canonical_json
from ordinance._files import (
    UnsafeFileError,
    atomic_write_text,
    read_limited,
    read_text_limited,
    write_private,
)
from ordinance.errors import InfrastructureError, InputError, VerificationError

__all__ = [
    "PAYLOAD_TYPE_INTOTO",
    "SIGTYPE_COSIGNATURE_V1",
    "SIGTYPE_ECDSA",
    "SIGTYPE_ED25519",
    "DsseSignature",
    "EcdsaP256Verifier",
    "Ed25519Signer",
    "Envelope",
    "Signer",
    "Verifier",
    "VerifierKey",
    "b64decode",
    "ed25519_verify",
    "ed25519_verify_reference",
    "encrypt_key_file",
    "generate_key",
    "key_is_encrypted",
    "load_signer",
    "note_key_id",
    "pae",
    "parse_vkey",
    "read_vkey",
    "sign_envelope",
    "verify_envelope",
    "vkey_path_for",
]

SIGTYPE_ED25519 = 0x01
#: ECDSA approver keys (NIST P-256, SHA-256), the type C2SP signed-note assigns to ECDSA: the
#: key is the DER SubjectPublicKeyInfo and its key ID the first 4 bytes of SHA-256(SPKI).
#: Only for roster members' DSSE signatures (raw ``r||s``, as WebCrypto makes them), the
#: fallback for browsers without Ed25519; never a log or witness key.
SIGTYPE_ECDSA = 0x02
SIGTYPE_COSIGNATURE_V1 = 0x04
_ED25519_TYPES = (SIGTYPE_ED25519, SIGTYPE_COSIGNATURE_V1)
PAYLOAD_TYPE_INTOTO = "application/vnd.in-toto+json"

_HDR_NAME = "ordinance-key-name: "
_HDR_TYPE = "ordinance-key-sigtype: "


# --------------------------------------------------------------------------- key identity


def note_key_id(name: str, sigtype: int, public_key: bytes) -> bytes:
    """C2SP signed-note key ID: the first 4 bytes of SHA-256(name || 0x0A || sigtype || key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sigtype]) + public_key).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name or not name.isprintable():
        raise InputError(f"invalid key name {name!r}: must be non-empty, no spaces, no '+'")
    return name


def b64decode(text: str | bytes) -> bytes:
    """Strict base64: standard or URL-safe alphabet, padding optional."""
    s = text.encode("ascii") if isinstance(text, str) else bytes(text)
    s = s.replace(b"-", b"+").replace(b"_", b"/")
    s += b"=" * (-len(s) % 4)
    return base64.b64decode(s, validate=True)


def ed25519_verify_reference(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification with `cryptography` (OpenSSL): the reference implementation."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _sodium_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """libsodium's check alone. Stricter than OpenSSL: it also refuses small-order or
    non-canonical public keys and R points, which OpenSSL's cofactorless check lets through."""
    if len(signature) != 64 or len(public_key) != 32:
        return False
    try:
        _sodium_open(signature + message, public_key)
    except _SodiumBadSignature:
        return False
    return True


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification on the hot path, with the verdict of the reference.

    libsodium (PyNaCl, ~2x faster here) decides every signature it accepts: whatever it
    accepts, OpenSSL accepts too. What it refuses is re-checked with
    :func:`ed25519_verify_reference`, so the answer is always the reference's (a test checks
    valid, mutated, malformed, small-order and vector cases) and only bad signatures pay twice.
    """
    return _sodium_verify(public_key, message, signature) or ed25519_verify_reference(
        public_key, message, signature
    )


class Verifier(Protocol):
    """Something that checks signatures of one key."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> str:
        """A short hint selecting this key (8 lowercase hex digits for note keys)."""
        ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


@runtime_checkable
class Signer(Protocol):
    """Something that signs with one key: a local file today, a KMS or Sigstore later."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> str:
        """8 lowercase hex digits: the C2SP note key ID of (name, sigtype, public key)."""
        ...

    @property
    def sigtype(self) -> int: ...

    @property
    def public_key(self) -> bytes:
        """Raw public key bytes (32 bytes for Ed25519)."""
        ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class VerifierKey:
    """A parsed C2SP vkey: an Ed25519 public key with its name and signature type."""

    name: str
    sigtype: int
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.sigtype == SIGTYPE_ECDSA:
            _p256_public(self.public_key)
            return
        if self.sigtype not in _ED25519_TYPES:
            raise InputError(f"unsupported key type 0x{self.sigtype:02x}")
        if len(self.public_key) != 32:
            raise InputError("an Ed25519 public key must be 32 bytes")

    @cached_property
    def key_id_bytes(self) -> bytes:
        if self.sigtype == SIGTYPE_ECDSA:
            return hashlib.sha256(self.public_key).digest()[:4]
        return note_key_id(self.name, self.sigtype, self.public_key)

    @cached_property
    def key_id(self) -> str:
        return self.key_id_bytes.hex()

    @property
    def vkey(self) -> str:
        blob = base64.b64encode(bytes([self.sigtype]) + self.public_key).decode()
        return f"{self.name}+{self.key_id}+{blob}"

    @cached_property
    def _public(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        if self.sigtype == SIGTYPE_ECDSA:
            return self._ecdsa.verify(message, signature)
        return ed25519_verify(self.public_key, message, signature)

    @cached_property
    def _ecdsa(self) -> EcdsaP256Verifier:
        return EcdsaP256Verifier(self.name, self.key_id, _p256_public(self.public_key))

    def verify_reference(self, message: bytes, signature: bytes) -> bool:
        """The same check with `cryptography` (the reference implementation)."""
        if self.sigtype == SIGTYPE_ECDSA:
            return self._ecdsa.verify(message, signature)
        try:
            self._public.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def __str__(self) -> str:
        return self.vkey


def _p256_public(der: bytes) -> ec.EllipticCurvePublicKey:
    """An ECDSA P-256 public key from its DER SubjectPublicKeyInfo (the one encoding)."""
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise InputError("an ECDSA key must be a DER SubjectPublicKeyInfo") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InputError("an ECDSA key must be on NIST P-256")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_bytes(serialization.Encoding.DER, spki) != der:
        raise InputError("an ECDSA key must be a canonical DER SubjectPublicKeyInfo")
    return key


def parse_vkey(vkey: str) -> VerifierKey:
    """Parse ``name+keyid+base64(type||key)``; the key ID must match the key."""
    first = vkey.strip().splitlines()[0][:60] if vkey.strip() else ""
    # a vkey is public, but the text may be any file's: quote it only if it looks like one
    shown = repr(first) if re.fullmatch(r"[\x21-\x7e]{1,60}", first) and "+" in first else "(text)"
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or "\n" in vkey.strip():
        raise InputError(f"malformed verifier key {shown}: want name+keyid+key")
    name, hex_id, blob = parts
    try:
        raw = b64decode(blob)
        want_id = bytes.fromhex(hex_id)
    except (ValueError, binascii.Error):
        raise InputError(f"malformed verifier key {shown}: bad hex or base64") from None
    if len(hex_id) != 8 or len(raw) < 1:
        raise InputError(f"malformed verifier key {shown}")
    key = VerifierKey(_check_name(name), raw[0], raw[1:])
    if key.key_id_bytes != want_id:
        raise InputError(f"verifier key {shown}: key ID does not match the key")
    return key


def read_vkey(path: Path) -> VerifierKey:
    return parse_vkey(read_text_limited(path))


def vkey_path_for(key_path: Path) -> Path:
    """Where the public vkey of a private key file lives: ``log.key`` -> ``log.vkey``."""
    return Path(key_path).with_suffix(".vkey")


@dataclass(frozen=True)
class EcdsaP256Verifier:
    """ECDSA P-256/SHA-256 over raw ``r||s`` signatures (DSSE's reference test key)."""

    name: str
    key_id: str
    public_key: ec.EllipticCurvePublicKey

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        try:
            self.public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


# --------------------------------------------------------------------------- Ed25519 signer


class Ed25519Signer:
    """A local Ed25519 key: note signatures (type 0x01) or witness cosignatures (0x04)."""

    def __init__(self, private_key: Ed25519PrivateKey, name: str, sigtype: int = SIGTYPE_ED25519):
        self._key = private_key
        self._public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._vk = VerifierKey(_check_name(name), sigtype, self._public)

    @classmethod
    def generate(cls, name: str, sigtype: int = SIGTYPE_ED25519) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.generate(), name, sigtype)

    @classmethod
    def from_seed(cls, seed: bytes, name: str, sigtype: int = SIGTYPE_ED25519) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed), name, sigtype)

    @property
    def name(self) -> str:
        return self._vk.name

    @property
    def key_id(self) -> str:
        return self._vk.key_id

    @property
    def sigtype(self) -> int:
        return self._vk.sigtype

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def verifier(self) -> VerifierKey:
        return self._vk

    @property
    def vkey(self) -> str:
        return self._vk.vkey

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def private_pem(self, passphrase: bytes | None = None) -> bytes:
        """The key file contents: header lines, then PKCS#8 PEM (encrypted if a passphrase)."""
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
        )
        header = f"{_HDR_NAME}{self.name}\n{_HDR_TYPE}{self.sigtype}\n"
        return header.encode() + pem

    def __repr__(self) -> str:
        return f"Ed25519Signer({self.vkey!r})"


def _as_bytes(passphrase: str | bytes | None) -> bytes | None:
    if passphrase is None or passphrase in ("", b""):
        return None
    return passphrase.encode() if isinstance(passphrase, str) else passphrase


def generate_key(
    path: Path,
    name: str,
    passphrase: str | bytes | None = None,
    *,
    sigtype: int = SIGTYPE_ED25519,
) -> str:
    """Create a key at ``path`` (0600, never overwriting) and ``<path>.vkey``; return the vkey."""
    path = Path(path)
    signer = Ed25519Signer.generate(name, sigtype)
    try:
        write_private(path, signer.private_pem(_as_bytes(passphrase)))
        atomic_write_text(vkey_path_for(path), signer.vkey + "\n")
    except FileExistsError:
        raise InputError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise InfrastructureError(f"cannot write key {path}: {exc.strerror or exc}") from None
    return signer.vkey


def key_is_encrypted(path: Path) -> bool:
    """Whether a key file written by :func:`generate_key` is passphrase-encrypted."""
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in read_limited(path, 64 * 1024)


def encrypt_key_file(
    path: Path, passphrase: str | bytes, *, current: str | bytes | None = None
) -> None:
    """Re-write the key file ``path`` encrypted with ``passphrase`` (PKCS#8, AES-256 under a
    key derived from the passphrase); ``current`` opens it if it is already encrypted.

    The new file replaces the old one atomically and is created 0600.
    """
    pw = _as_bytes(passphrase)
    if pw is None:
        raise InputError("an empty passphrase does not encrypt anything")
    signer = load_signer(path, current)
    path = Path(path)
    tmp = path.with_name(path.name + ".encrypting")
    tmp.unlink(missing_ok=True)
    try:
        write_private(tmp, signer.private_pem(pw))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InfrastructureError(f"cannot write key {path}: {exc.strerror or exc}") from None


def load_signer(path: Path, passphrase: str | bytes | None = None) -> Ed25519Signer:
    """Load a key file written by :func:`generate_key`."""
    try:
        data = read_limited(path, 64 * 1024)
    except UnsafeFileError as exc:
        if exc.problem == "file not found":
            raise InfrastructureError(f"cannot read key {path}: no such file") from None
        raise
    name: str | None = None
    sigtype = SIGTYPE_ED25519
    lines = data.split(b"\n")
    body_start = 0
    for i, line in enumerate(lines):
        text = line.decode("utf-8", "replace")
        if text.startswith(_HDR_NAME):
            name = text[len(_HDR_NAME) :].strip()
        elif text.startswith(_HDR_TYPE):
            try:
                sigtype = int(text[len(_HDR_TYPE) :].strip())
            except ValueError:
                raise InputError(f"{path}: bad key type header") from None
        else:
            body_start = i
            break
    if name is None:
        raise InputError(f"{path}: not an Ordinance key file (no '{_HDR_NAME.strip()}' header)")
    pem = b"\n".join(lines[body_start:])
    try:
        key = serialization.load_pem_private_key(pem, password=_as_bytes(passphrase))
    except TypeError:
        raise InputError(f"{path}: the key is encrypted; a passphrase is needed") from None
    except ValueError:
        raise InputError(f"{path}: cannot decrypt or parse the private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: not an Ed25519 private key")
    return Ed25519Signer(key, name, sigtype)


# --------------------------------------------------------------------------- DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class DsseSignature:
    sig: bytes
    keyid: str = ""


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope; :meth:`to_bytes` is its one canonical encoding (RFC 8785 JSON)."""

    payload: bytes
    payload_type: str
    signatures: tuple[DsseSignature, ...]

    def to_dict(self) -> dict[str, Any]:
        sigs: list[dict[str, str]] = []
        for s in self.signatures:
            d = {"sig": base64.b64encode(s.sig).decode()}
            if s.keyid:
                d["keyid"] = s.keyid
            sigs.append(d)
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": sigs,
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Envelope:
        try:
            payload = b64decode(data["payload"])
            ptype = data["payloadType"]
            sigs = tuple(
                DsseSignature(b64decode(s["sig"]), str(s.get("keyid") or ""))
                for s in data["signatures"]
            )
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise InputError(f"malformed DSSE envelope: {type(exc).__name__} {exc}") from None
        if not isinstance(ptype, str):
            raise InputError("malformed DSSE envelope: payloadType is not a string")
        return cls(payload, ptype, sigs)

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        try:
            obj = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"malformed DSSE envelope: not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise InputError("malformed DSSE envelope: not a JSON object")
        return cls.from_dict(obj)


def sign_envelope(payload: bytes, payload_type: str, signers: Sequence[Signer]) -> Envelope:
    """Sign ``payload`` with every signer (at least one) and wrap it in an envelope."""
    if not signers:
        raise InputError("a DSSE envelope needs at least one signer")
    msg = pae(payload_type, payload)
    sigs = tuple(DsseSignature(s.sign(msg), s.key_id) for s in signers)
    return Envelope(payload, payload_type, sigs)


def verify_envelope(
    envelope: Envelope,
    verifiers: Iterable[Verifier],
    *,
    threshold: int = 1,
    payload_type: str | None = None,
) -> bytes:
    """Check at least ``threshold`` distinct keys signed; return the verified payload bytes.

    A signature whose key ID hint matches a known key must verify; one that does not is an
    error (tampering), not merely ignored. Signatures from unknown keys are ignored.
    """
    if threshold < 1:
        raise InputError("a verification threshold must be at least 1")
    if payload_type is not None and envelope.payload_type != payload_type:
        raise VerificationError(
            f"payload type {envelope.payload_type!r}, expected {payload_type!r}"
        )
    by_id: dict[str, list[Verifier]] = {}
    all_v: list[Verifier] = []
    for v in verifiers:
        by_id.setdefault(v.key_id, []).append(v)
        all_v.append(v)
    msg = pae(envelope.payload_type, envelope.payload)
    accepted: set[tuple[str, str]] = set()
    for s in envelope.signatures:
        candidates = by_id.get(s.keyid, []) if s.keyid else all_v
        ok = False
        for v in candidates:
            if v.verify(msg, s.sig):
                accepted.add((v.name, v.key_id))
                ok = True
                break
        if candidates and not ok and s.keyid:
            raise VerificationError(f"bad DSSE signature by key {s.keyid}")
    if len(accepted) < threshold:
        raise VerificationError(
            f"DSSE envelope has {len(accepted)} valid signature(s) from known keys, "
            f"needs {threshold}"
        )
    return envelope.payload
