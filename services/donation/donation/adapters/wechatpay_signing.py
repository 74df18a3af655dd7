"""WeChat Pay API v3 cryptography, pure: request signatures, answer and notification
signatures, AEAD_AES_256_GCM resources, and key loading.

By the published protocol (https://pay.weixin.qq.com/doc/v3/merchant/): a request is signed
with the merchant's API certificate key, RSA-SHA256 PKCS#1 v1.5 over
``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n`` (URL = path with query); WeChat Pay signs its
answers and notifications with the 微信支付公钥 (serial ``PUB_KEY_ID_...``) or a platform
certificate over ``timestamp\\nnonce\\nbody\\n``; notification resources and the platform
certificates are encrypted with AEAD_AES_256_GCM under the merchant's APIv3 key.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"  # WeChat Pay's probe: a signature that must not verify
NONCE_ALPHABET = string.ascii_letters + string.digits


class DecryptFailed(ValueError):
    """An AEAD_AES_256_GCM resource did not decrypt (wrong key, nonce, data or tag)."""


def new_nonce(length: int = 32) -> str:
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(length))


def request_message(method: str, url: str, timestamp: str, nonce: str, body: str) -> str:
    """What a merchant signs: ``url`` is the absolute path with its query string, if any."""
    return f"{method.upper()}\n{url}\n{timestamp}\n{nonce}\n{body}\n"


def answer_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What WeChat Pay signs in an answer or a notification (the body exactly as received)."""
    return timestamp.encode("ascii") + b"\n" + nonce.encode("ascii") + b"\n" + body + b"\n"


def sign(key: rsa.RSAPrivateKey, message: str | bytes) -> str:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``key``'s RSA-SHA256 signature of ``message``."""
    if signature.startswith(SIGNTEST_PREFIX):
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def authorization(
    *,
    mchid: str,
    serial_no: str,
    key: rsa.RSAPrivateKey,
    method: str,
    url: str,
    body: str,
    timestamp: str,
    nonce: str,
) -> str:
    """The ``Authorization`` header of one request."""
    signature = sign(key, request_message(method, url, timestamp, nonce, body))
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def decrypt(apiv3_key: bytes, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    """AEAD_AES_256_GCM: ``ciphertext`` is base64(ciphertext || 16-byte tag)."""
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
        return AESGCM(apiv3_key).decrypt(
            nonce.encode("utf-8"), sealed, associated_data.encode("utf-8")
        )
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise DecryptFailed(f"AEAD_AES_256_GCM: {type(exc).__name__}") from exc


def encrypt(apiv3_key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    """The inverse of :func:`decrypt` (for tests and tools)."""
    sealed = AESGCM(apiv3_key).encrypt(
        nonce.encode("utf-8"), plaintext, associated_data.encode("utf-8")
    )
    return base64.b64encode(sealed).decode("ascii")


def certificate_serial(cert: x509.Certificate) -> str:
    """A certificate's serial as WeChat Pay writes it: upper-case hex."""
    return format(cert.serial_number, "X")


def certificate_key(
    cert: x509.Certificate, *, at: datetime, issuer: x509.Certificate | None = None
) -> rsa.RSAPublicKey:
    """The RSA key of a platform certificate valid at ``at`` (and issued by ``issuer``, when
    given); ``ValueError`` otherwise."""
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise ValueError(f"certificate {certificate_serial(cert)} is not valid at {at}")
    if issuer is not None:
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise ValueError(f"certificate {certificate_serial(cert)} not issued by CA") from exc
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"certificate {certificate_serial(cert)} holds no RSA key")
    return key


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return key


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path}: not an RSA public key")
    return key
