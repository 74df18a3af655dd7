"""统一社会信用代码 (GB 32100-2015): 18 characters, the last a check character.

The alphabet leaves out I, O, S, V and Z; the check character is 31 - (Σ value × 3^i mod 31)
mod 31 over the first 17, weights 3^i mod 31 for positions 0..16.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
VALUE = {c: i for i, c in enumerate(ALPHABET)}


def check_character(first17: str) -> str:
    total = sum(VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(text: str) -> str:
    """The code in capitals without spaces; ``ValueError`` saying what is wrong otherwise."""
    code = "".join(text.split()).upper()
    if len(code) != 18:
        raise ValueError(f"统一社会信用代码应为 18 位，收到 {len(code)} 位 (must be 18 characters)")
    wrong = sorted({c for c in code if c not in VALUE})
    if wrong:
        raise ValueError(
            f"统一社会信用代码含无效字符 {''.join(wrong)} "
            "(I, O, S, V, Z and symbols are never used)"
        )
    if check_character(code[:17]) != code[17]:
        raise ValueError("统一社会信用代码校验位不符，请核对 (the check character does not match)")
    return code
