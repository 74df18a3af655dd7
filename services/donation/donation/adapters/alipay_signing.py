"""Alipay's RSA2 signatures, amounts and times, and its trade statement, as pure functions.

The open platform's "通用版" protocol (https://opendocs.alipay.com/common/02kf5q): a request
is signed over its parameters sorted by name, empty values and ``sign`` left out, joined as
``k=v&...`` without URL-encoding; a notification likewise, ``sign_type`` left out too; an
answer over the exact text of its ``<method>_response`` member as it arrived. RSA2 is
SHA256withRSA with PKCS#1 v1.5 padding, base64 encoded. Amounts are yuan with at most two
decimals; times are ``yyyy-MM-dd HH:mm:ss`` in Asia/Shanghai (which has had no daylight
saving since 1991, so a fixed +08:00 offset is exact).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from donation.domain.payments import StatementLine

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_YUAN = re.compile(r"-?\d{1,13}(\.\d{1,2})?")
_WHITESPACE = " \t\r\n"


# keys
def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#8 or PKCS#1), or the bare base64 text Alipay's
    key tool writes (DER without the PEM lines)."""
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        key = serialization.load_pem_private_key(data, password=None)
    else:
        key = serialization.load_der_private_key(_bare_base64(data, path), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or bare base64 (as the open platform shows 支付宝公钥)."""
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        key = serialization.load_pem_public_key(data)
    else:
        key = serialization.load_der_public_key(_bare_base64(data, path))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key


def _bare_base64(data: bytes, path: Path) -> bytes:
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{path} is neither PEM nor base64") from exc


# signatures
def signing_string(params: Mapping[str, str], exclude: Iterable[str] = ("sign",)) -> str:
    """``k=v&...`` sorted by name, empty values and ``exclude`` left out, nothing encoded."""
    left_out = set(exclude)
    return "&".join(
        f"{name}={value}"
        for name, value in sorted(params.items())
        if name not in left_out and value != ""
    )


def sign_rsa2(key: rsa.RSAPrivateKey, text: str) -> str:
    signature = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_rsa2(key: rsa.RSAPublicKey, text: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):  # binascii.Error is a ValueError
        return False
    return True


def top_level_members(text: str) -> dict[str, str]:
    """Each member of a JSON object as the exact text it has in ``text`` (raises ValueError
    for anything but one object, or for a name given twice)."""
    decoder = json.JSONDecoder()
    members: dict[str, str] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in _WHITESPACE:
            i += 1
        return i

    try:
        i = skip(0)
        if text[i] != "{":
            raise ValueError("not a JSON object")
        i = skip(i + 1)
        if text[i] == "}":
            end = i + 1
        else:
            while True:
                if text[i] != '"':
                    raise ValueError(f"a member name expected at {i}")
                name, i = decoder.raw_decode(text, i)
                i = skip(i)
                if text[i] != ":":
                    raise ValueError(f"':' expected at {i}")
                start = skip(i + 1)
                _, i = decoder.raw_decode(text, start)
                if name in members:
                    raise ValueError(f"member {name!r} given twice")
                members[name] = text[start:i]
                i = skip(i)
                if text[i] == ",":
                    i = skip(i + 1)
                    continue
                if text[i] != "}":
                    raise ValueError(f"',' or '}}' expected at {i}")
                end = i + 1
                break
    except IndexError as exc:
        raise ValueError("the JSON text ends early") from exc
    if skip(end) != len(text):
        raise ValueError("text after the JSON object")
    return members


def response_content(raw: str, response_key: str) -> tuple[str, str | None]:
    """The answer's ``response_key`` member as sent (what Alipay signed) and its ``sign``."""
    members = top_level_members(raw)
    if response_key not in members:
        raise ValueError(f"no {response_key} in the answer")
    sign: str | None = None
    if "sign" in members:
        value = json.loads(members["sign"])
        if not isinstance(value, str):
            raise ValueError("sign is not a string")
        sign = value
    return members[response_key], sign


# amounts and times
def yuan_to_fen(text: str) -> int:
    """``"12.30"`` → 1230, exactly (Decimal, never float); ValueError for anything else."""
    if not isinstance(text, str) or not _YUAN.fullmatch(text):
        raise ValueError(f"not an amount in yuan: {text!r}")
    return int(Decimal(text) * 100)


def fen_to_yuan(fen: int) -> str:
    """1230 → ``"12.30"``."""
    return f"{(Decimal(fen) / 100):.2f}"


def alipay_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is needed")
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def parse_alipay_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=SHANGHAI)


# the trade statement (对账单, bill_type trade)
class StatementFormatError(ValueError):
    """The statement file is not in the format Alipay documents."""


DETAIL_SUFFIX = "业务明细.csv"


def _zip_name(info: zipfile.ZipInfo) -> str:
    """Alipay's zips name their files in GBK without the UTF-8 flag, which Python reads as
    cp437; a name with the flag is already right."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def detail_csv(archive: bytes) -> str:
    """The text of the 业务明细 file in a downloaded statement zip (not the 汇总 one)."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            for info in bundle.infolist():
                name = _zip_name(info).rsplit("/", 1)[-1]
                if name.endswith(DETAIL_SUFFIX) and "汇总" not in name:
                    return bundle.read(info).decode("gb18030")  # a superset of GBK
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise StatementFormatError(f"unreadable statement archive: {exc}") from exc
    raise StatementFormatError("no 业务明细 file in the statement archive")


COLUMNS = {
    "trade_no": "支付宝交易号",
    "out_trade_no": "商户订单号",
    "kind": "业务类型",
    "finished": "完成时间",
    "amount": "订单金额（元）",
    "request_no": "退款批次号/请求号",
}


def parse_detail_csv(text: str) -> list[StatementLine]:
    """Lines of a 业务明细 file: ``#`` comment lines around a header row and detail rows
    whose fields often end with a tab (kept by Alipay so that spreadsheets show numbers as
    text). 交易 rows are payments, 退款 rows refunds (amount given negative; reported
    positive); other kinds are left out."""
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not rows:
        raise StatementFormatError("no header row")
    table = [[field.strip(_WHITESPACE) for field in row] for row in csv.reader(rows)]
    header, details = table[0], table[1:]
    try:
        at = {key: header.index(name) for key, name in COLUMNS.items()}
    except ValueError as exc:
        raise StatementFormatError(f"a column is missing: {exc}") from exc
    lines: list[StatementLine] = []
    for number, fields in enumerate(details, start=2):
        if len(fields) != len(header):
            raise StatementFormatError(
                f"detail row {number} has {len(fields)} fields, the header {len(header)}"
            )
        kind = fields[at["kind"]]
        if kind not in ("交易", "退款"):
            continue
        try:
            amount = yuan_to_fen(fields[at["amount"]])
            moment = parse_alipay_time(fields[at["finished"]])
        except ValueError as exc:
            raise StatementFormatError(f"detail row {number}: {exc}") from exc
        out_trade_no, trade_no = fields[at["out_trade_no"]], fields[at["trade_no"]]
        if kind == "交易":
            lines.append(StatementLine("payment", out_trade_no, trade_no, amount, moment))
        else:
            # a refund asked for without out_request_no is numbered by the order
            refund_no = fields[at["request_no"]] or out_trade_no
            lines.append(
                StatementLine("refund", out_trade_no, trade_no, abs(amount), moment, refund_no)
            )
    return lines


def parse_trade_bill(archive: bytes) -> list[StatementLine]:
    return parse_detail_csv(detail_csv(archive))
