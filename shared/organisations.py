"""The organisations of the district's Red Cross system (全区红十字系统一盘棋), who reaches what.

The district branch (奉化区红十字会) and the 12 town (street) branches. The register itself is
data: the donation service owns it (table ``organisations``, API ``/api/v1/organisations``)
and announces each organisation on ``staff.events``; :data:`SEED` is only what a fresh
install starts with (the migrations of the donation and warehouse services insert it), so
the services agree on the codes before the first event is read.

Scope: every staff account belongs to one organisation (the token's ``org`` claim). Staff of
the district branch reach every organisation; a town branch's staff reach only their own. The
auditor (监事会) reads everything and changes nothing, which the roles already say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DISTRICT = "FH"  # 奉化区红十字会: the district branch

OrganisationKind = Literal["district", "town"]


@dataclass(frozen=True)
class SeedOrganisation:
    code: str
    name: str
    kind: OrganisationKind
    town: str | None  # the town (street) it serves; None for the district branch


SEED: tuple[SeedOrganisation, ...] = (
    SeedOrganisation(DISTRICT, "奉化区红十字会", "district", None),
    SeedOrganisation("JP", "锦屏街道红十字会", "town", "锦屏街道"),
    SeedOrganisation("YL", "岳林街道红十字会", "town", "岳林街道"),
    SeedOrganisation("JK", "江口街道红十字会", "town", "江口街道"),
    SeedOrganisation("XW", "西坞街道红十字会", "town", "西坞街道"),
    SeedOrganisation("XWM", "萧王庙街道红十字会", "town", "萧王庙街道"),
    SeedOrganisation("FQ", "方桥街道红十字会", "town", "方桥街道"),
    SeedOrganisation("ST", "尚田街道红十字会", "town", "尚田街道"),
    SeedOrganisation("CH", "莼湖街道红十字会", "town", "莼湖街道"),
    SeedOrganisation("XK", "溪口镇红十字会", "town", "溪口镇"),
    SeedOrganisation("DY", "大堰镇红十字会", "town", "大堰镇"),
    SeedOrganisation("SA", "松岙镇红十字会", "town", "松岙镇"),
    SeedOrganisation("QC", "裘村镇红十字会", "town", "裘村镇"),
)

SEED_BY_CODE = {o.code: o for o in SEED}
SEED_BY_TOWN = {o.town: o for o in SEED if o.town is not None}

ORG_CODE_PATTERN = r"^[A-Z][A-Z0-9]{1,15}$"


def reaches(principal_org: str, org_code: str) -> bool:
    """Whether staff of ``principal_org`` may see and change what belongs to ``org_code``:
    the district branch reaches every organisation, a town branch only itself."""
    return principal_org in (DISTRICT, org_code)


def org_name(code: str) -> str:
    """The seeded name of ``code`` (for messages), or the code itself."""
    seeded = SEED_BY_CODE.get(code)
    return seeded.name if seeded else code
