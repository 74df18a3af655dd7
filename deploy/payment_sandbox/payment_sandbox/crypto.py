"""RSA-SHA256 (PKCS#1 v1.5) signatures, AEAD_AES_256_GCM, and the sandbox's key material."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

MCHID = "1900000109"
APPID = "wxd930ea5d5a258f4f"
ALIPAY_APP_ID = "9021000000000001"
ALIPAY_SELLER_ID = "2088000000000001"
ALNUM = string.ascii_letters + string.digits


def random_text(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def sign(key: rsa.RSAPrivateKey, message: str) -> str:
    signature = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def aes_gcm_encrypt(key: str, nonce: str, associated_data: str, plaintext: bytes) -> str:
    """base64(ciphertext || tag), as in WeChat Pay's encrypted resources."""
    sealed = AESGCM(key.encode("ascii")).encrypt(
        nonce.encode("ascii"), plaintext, associated_data.encode("utf-8")
    )
    return base64.b64encode(sealed).decode("ascii")


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_private(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} is not an RSA key")
    return key


def _load_public(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError(f"{path} is not an RSA key")
    return key


def _serial() -> int:
    """A positive 20-octet serial that prints as exactly 40 hex digits (like WeChat Pay's)."""
    return (1 << 156) + secrets.randbelow((1 << 159) - (1 << 156))


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=5 * 365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "X")


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


@dataclass(frozen=True)
class Keys:
    """Everything the sandbox signs and verifies with; loaded from (or made in) the state dir."""

    mchid: str
    appid: str
    apiv3_key: str
    merchant_serial: str
    merchant_public: rsa.RSAPublicKey
    platform_key: rsa.RSAPrivateKey
    platform_serial: str
    platform_cert_pem: bytes
    platform_cert: x509.Certificate
    wechatpay_key: rsa.RSAPrivateKey
    pub_key_id: str
    alipay_app_id: str
    alipay_seller_id: str
    alipay_app_public: rsa.RSAPublicKey
    alipay_key: rsa.RSAPrivateKey


def load_or_create(state_dir: Path) -> Keys:
    """Generate the key files on first start; afterwards only read them (idempotent)."""
    wechat, alipay, private = state_dir / "wechat", state_dir / "alipay", state_dir / "private"
    for folder in (wechat, alipay, private):
        folder.mkdir(parents=True, exist_ok=True)
    private.chmod(0o700)

    ca_key_path, ca_cert_path = private / "ca_key.pem", wechat / "sandbox_ca.pem"
    if not ca_key_path.exists():
        ca_key = _new_key()
        ca_name = _name("Payment Sandbox CA", "Sunshine Payment Sandbox")
        ca_cert = _certificate(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)
        _write(ca_key_path, _private_pem(ca_key), private=True)
        _write(ca_cert_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_key = _load_private(ca_key_path)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())

    merchant_json = wechat / "merchant.json"
    if not merchant_json.exists():
        merchant_json.write_text(json.dumps({"mchid": MCHID, "appid": APPID}, indent=2) + "\n")
    merchant = json.loads(merchant_json.read_text())

    merchant_key_path, merchant_cert_path = (
        wechat / "apiclient_key.pem",
        wechat / "apiclient_cert.pem",
    )
    if not merchant_cert_path.exists():
        merchant_key = _new_key()
        cert = _certificate(
            _name(merchant["mchid"], "沙箱商户"),
            merchant_key.public_key(),
            ca_cert.subject,
            ca_key,
            ca=False,
        )
        _write(merchant_key_path, _private_pem(merchant_key), private=True)
        _write(merchant_cert_path, cert.public_bytes(serialization.Encoding.PEM))
        (wechat / "merchant_serial.txt").write_text(serial_hex(cert) + "\n")
    merchant_cert = x509.load_pem_x509_certificate(merchant_cert_path.read_bytes())
    merchant_public = merchant_cert.public_key()
    assert isinstance(merchant_public, rsa.RSAPublicKey)
    (wechat / "merchant_serial.txt").write_text(serial_hex(merchant_cert) + "\n")

    apiv3_path = wechat / "apiv3_key.txt"
    if not apiv3_path.exists():
        _write(apiv3_path, (random_text(32) + "\n").encode("ascii"), private=True)
    apiv3_key = apiv3_path.read_text().strip()

    platform_key_path, platform_cert_path = (
        private / "wechat_platform_key.pem",
        wechat / "platform_cert.pem",
    )
    if not platform_cert_path.exists():
        platform_key = _new_key()
        cert = _certificate(
            _name("Tenpay.com Sandbox", "财付通支付科技有限公司（沙箱）"),
            platform_key.public_key(),
            ca_cert.subject,
            ca_key,
            ca=False,
        )
        _write(platform_key_path, _private_pem(platform_key), private=True)
        _write(platform_cert_path, cert.public_bytes(serialization.Encoding.PEM))
    platform_cert_pem = platform_cert_path.read_bytes()
    platform_cert = x509.load_pem_x509_certificate(platform_cert_pem)
    (wechat / "platform_serial.txt").write_text(serial_hex(platform_cert) + "\n")

    pay_key_path = private / "wechatpay_pub_key_private.pem"
    if not pay_key_path.exists():
        pay_key = _new_key()
        _write(pay_key_path, _private_pem(pay_key), private=True)
        _write(wechat / "pub_key.pem", _public_pem(pay_key.public_key()))
        day = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
        pub_key_id = f"PUB_KEY_ID_01{merchant['mchid']}{day:%Y%m%d}00000000000001"
        (wechat / "pub_key_id.txt").write_text(pub_key_id + "\n")

    app_json = alipay / "app.json"
    if not app_json.exists():
        app_json.write_text(
            json.dumps({"app_id": ALIPAY_APP_ID, "seller_id": ALIPAY_SELLER_ID}, indent=2) + "\n"
        )
    app = json.loads(app_json.read_text())
    app_private_path = alipay / "app_private_key.pem"
    if not app_private_path.exists():
        app_key = _new_key()
        _write(app_private_path, _private_pem(app_key), private=True)
        _write(alipay / "app_public_key.pem", _public_pem(app_key.public_key()))
    alipay_key_path = private / "alipay_private_key.pem"
    if not alipay_key_path.exists():
        alipay_key = _new_key()
        _write(alipay_key_path, _private_pem(alipay_key), private=True)
        _write(alipay / "alipay_public_key.pem", _public_pem(alipay_key.public_key()))

    return Keys(
        mchid=merchant["mchid"],
        appid=merchant["appid"],
        apiv3_key=apiv3_key,
        merchant_serial=serial_hex(merchant_cert),
        merchant_public=merchant_public,
        platform_key=_load_private(platform_key_path),
        platform_serial=serial_hex(platform_cert),
        platform_cert_pem=platform_cert_pem,
        platform_cert=platform_cert,
        wechatpay_key=_load_private(pay_key_path),
        pub_key_id=(wechat / "pub_key_id.txt").read_text().strip(),
        alipay_app_id=app["app_id"],
        alipay_seller_id=app["seller_id"],
        alipay_app_public=_load_public(alipay / "app_public_key.pem"),
        alipay_key=_load_private(alipay_key_path),
    )
