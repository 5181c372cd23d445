"""Where an alarm lives: region codes from the names CloudWatch writes, accounts and
regions from ARNs.

An SNS alarm message names its region in words (`"EU (Ireland)"`, `"Asia Pacific
(Tokyo)"`), and real ones vary (`"Europe (Ireland)"`, `"US (Virginia)"`, `"EU -
Ireland"`); ARNs may carry placeholders (`REGION`, `ACCOUNT_NUMBER`) or stray spaces.
Nothing here guesses: a name or an ARN field that matches no region or account gives
an empty string, and the caller decides what an unknown region means.
"""

from __future__ import annotations

import re

# Region code -> the name CloudWatch writes in an alarm message (the older `EU (...)`
# spelling, which the simulator renders), and the place the name is known by.
REGIONS: dict[str, tuple[str, str]] = {
    "us-east-1": ("US East (N. Virginia)", "virginia"),
    "us-east-2": ("US East (Ohio)", "ohio"),
    "us-west-1": ("US West (N. California)", "california"),
    "us-west-2": ("US West (Oregon)", "oregon"),
    "af-south-1": ("Africa (Cape Town)", "cape town"),
    "ap-east-1": ("Asia Pacific (Hong Kong)", "hong kong"),
    "ap-east-2": ("Asia Pacific (Taipei)", "taipei"),
    "ap-south-1": ("Asia Pacific (Mumbai)", "mumbai"),
    "ap-south-2": ("Asia Pacific (Hyderabad)", "hyderabad"),
    "ap-southeast-1": ("Asia Pacific (Singapore)", "singapore"),
    "ap-southeast-2": ("Asia Pacific (Sydney)", "sydney"),
    "ap-southeast-3": ("Asia Pacific (Jakarta)", "jakarta"),
    "ap-southeast-4": ("Asia Pacific (Melbourne)", "melbourne"),
    "ap-southeast-5": ("Asia Pacific (Malaysia)", "malaysia"),
    "ap-southeast-7": ("Asia Pacific (Thailand)", "thailand"),
    "ap-northeast-1": ("Asia Pacific (Tokyo)", "tokyo"),
    "ap-northeast-2": ("Asia Pacific (Seoul)", "seoul"),
    "ap-northeast-3": ("Asia Pacific (Osaka)", "osaka"),
    "ca-central-1": ("Canada (Central)", "canada central"),
    "ca-west-1": ("Canada West (Calgary)", "calgary"),
    "eu-central-1": ("EU (Frankfurt)", "frankfurt"),
    "eu-central-2": ("Europe (Zurich)", "zurich"),
    "eu-west-1": ("EU (Ireland)", "ireland"),
    "eu-west-2": ("EU (London)", "london"),
    "eu-west-3": ("EU (Paris)", "paris"),
    "eu-south-1": ("Europe (Milan)", "milan"),
    "eu-south-2": ("Europe (Spain)", "spain"),
    "eu-north-1": ("EU (Stockholm)", "stockholm"),
    "il-central-1": ("Israel (Tel Aviv)", "tel aviv"),
    "me-south-1": ("Middle East (Bahrain)", "bahrain"),
    "me-central-1": ("Middle East (UAE)", "uae"),
    "mx-central-1": ("Mexico (Central)", "mexico"),
    "sa-east-1": ("South America (Sao Paulo)", "sao paulo"),
    "us-gov-east-1": ("AWS GovCloud (US-East)", "govcloud us east"),
    "us-gov-west-1": ("AWS GovCloud (US-West)", "govcloud us west"),
}
REGION_NAMES = {code: name for code, (name, _) in REGIONS.items()}
_CODE = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _words(text: str) -> str:
    """`"EU - Ireland"` -> `"eu ireland"`; `"São Paulo"` -> `"sao paulo"`."""
    plain = text.lower().replace("ã", "a").replace(".", " ")
    return " ".join(re.findall(r"[a-z0-9]+", plain))


_BY_NAME = {_words(name): code for code, (name, _) in REGIONS.items()}
_BY_NAME |= {_words(name.replace("EU (", "Europe (")): code for code, name in REGION_NAMES.items()}


def is_region(text: str) -> bool:
    return bool(_CODE.match(text))


def region_code(text: str | None) -> str:
    """A region code from a code or a region's name in words; '' when it names none."""
    if not text:
        return ""
    cleaned = text.strip()
    if is_region(cleaned):
        return cleaned
    words = _words(cleaned)
    if words in _BY_NAME:
        return _BY_NAME[words]
    padded = f" {words} "
    places = {code for code, (_, place) in REGIONS.items() if f" {place} " in padded}
    return places.pop() if len(places) == 1 else ""


def arn_parts(arn: str | None) -> list[str]:
    """An ARN's fields, with stray spaces around the separators removed (real payloads
    have `us-east-1: 444455556666`); the resource part is kept as written."""
    if not arn or not arn.strip().startswith("arn:"):
        return []
    parts = arn.strip().split(":", 6)
    return [part.strip() for part in parts[:6]] + parts[6:]


def clean_arn(arn: str | None) -> str:
    return ":".join(arn_parts(arn)) if arn_parts(arn) else (arn or "").strip()


def arn_region(arn: str | None) -> str:
    parts = arn_parts(arn)
    return parts[3] if len(parts) > 4 and is_region(parts[3]) else ""


def arn_account(arn: str | None) -> str:
    parts = arn_parts(arn)
    return parts[4] if len(parts) > 4 and _ACCOUNT.match(parts[4]) else ""


def account_id(text: str | None) -> str:
    """A 12-digit account id, or '' for anything else (`EXAMPLE`, a 10-digit typo)."""
    cleaned = (text or "").strip()
    return cleaned if _ACCOUNT.match(cleaned) else ""
