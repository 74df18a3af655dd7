"""Staff subjects (a token's ``sub``) compared as the same account or not.

An external OIDC provider may issue ``Alice``, ``alice`` or `` alice `` for one account (many
match user names without regard to case), so a four-eyes rule ("the approver is not the
person who entered or requested it") compares the normalised subjects, never the raw strings.
The subject itself is stored and shown as the token gave it.

Normalising more than strictly needed errs on the safe side here: two people wrongly taken
for one are refused an approval (someone else approves), while one person taken for two
would approve their own request.
"""

from __future__ import annotations

import unicodedata


def normalise_subject(subject: str) -> str:
    """The comparison key of a subject: Unicode compatibility form (NFKC: full-width ``Ａ`` is
    ``A``), case folded (``str.casefold``: ``STRASSE`` is ``straße``), surrounding white space
    removed."""
    folded = unicodedata.normalize("NFKC", subject).casefold()
    return unicodedata.normalize("NFKC", folded).strip()  # folding can undo the normal form


def same_subject(first: str, second: str) -> bool:
    """Whether two subjects name the same account (the four-eyes test)."""
    return normalise_subject(first) == normalise_subject(second)
