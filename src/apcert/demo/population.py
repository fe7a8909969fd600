"""Who holds the demo certificates: organizations with sites, and when each was granted.

Plain data, no ORM. Organizations get made-up names, registration numbers shaped as in
their country, and one to three sites; each asks for one to three certificates, from a CB
that holds the acceptance its programmes need, often one in its own country.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import pickle
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TextIO

from tqdm import tqdm

from apcert.core.dates import add_months
from apcert.demo import words
from apcert.demo.dice import Dice
from apcert.demo.setup import CBInfo, Person

OFFICE_START = 8 * 3600
OFFICE_SECONDS = 9 * 3600


@dataclass(slots=True)
class Org:
    id: int
    country: words.Country
    family: int
    name: str
    registration_number: str
    registration_authority: str
    address: str
    sites: list[dict[str, Any]]  # as snapshots.site_snapshot
    created: int = 0  # date ordinal
    user: Person | None = None  # set when the organization has an account
    holder_json: str = ""
    site_json: dict[tuple[int, ...], str] = field(default_factory=dict)

    def packed(self) -> bytes:
        """The organization as a few hundred bytes, a fifth of what the object holds: a
        load keeps every organization from its rows until its last certificate."""
        user = None if self.user is None else (self.user.id, self.user.label)
        return pickle.dumps(
            (
                self.id, self.country.code, self.family, self.name, self.registration_number,
                self.registration_authority, self.address, self.sites, self.created, user,
            ),
            protocol=pickle.HIGHEST_PROTOCOL,
        )  # fmt: skip

    @staticmethod
    def unpacked(data: bytes) -> Org:
        """The organization :meth:`packed` made (without the JSON it had cached)."""
        fields = pickle.loads(data)  # noqa: S301 - bytes this process made itself
        id_, code, family, name, number, authority, address, sites, created, user = fields
        return Org(
            id=id_,
            country=words.COUNTRY_BY_CODE[code],
            family=family,
            name=name,
            registration_number=number,
            registration_authority=authority,
            address=address,
            sites=sites,
            created=created,
            user=None if user is None else Person(*user),
        )


class Plan(NamedTuple):
    """One certificate to be: granted on ``day`` at ``seconds`` past midnight (UTC)."""

    day: int  # date ordinal
    seconds: int
    org: int  # index into the organizations
    cb: int  # index into the CBs
    family: int  # index into words.FAMILIES
    extra: bool  # adds the family's extra programme and a scope line for it
    design: bool  # adds a design scope line


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def weekday(ordinal: int) -> int:
    return (ordinal + 6) % 7  # as date.weekday(): ordinal 1 (0001-01-01) was a Monday


def _perm(k: int, modulus: int) -> int:
    # A bijection of [0, modulus) when the modulus has no prime factor but 2, 3 and 5:
    # distinct organizations get distinct registration numbers without a lookup.
    return (k * 7_919_993 + 6_029_418_735_511) % modulus


_USCC_CHECK = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def registration_number(shape: str, k: int) -> str:
    """The k-th registration number of a country, shaped like the real ones."""
    if shape == "uscc":
        p = _perm(k, 10**9)
        return f"91{440300 + 100 * (k % 97):06d}{p:09d}{_USCC_CHECK[p % 31]}"
    if shape == "hrb":
        return f"HRB {100000 + _perm(k, 900000)}"
    if shape == "kr_brn":
        s = f"{_perm(k, 10**10):010d}"
        return f"{s[:3]}-{s[3:5]}-{s[5:]}"
    if shape == "cin":
        return f"U3{1900 + k % 100:04d}KA{2000 + k % 25}PTC{_perm(k, 10**6):06d}"
    if shape == "siren":
        s = f"{_perm(k, 10**9):09d}"
        return f"{s[:3]} {s[3:6]} {s[6:]}"
    if shape == "rfc":
        letters = "".join(chr(65 + (k // 26**i) % 26) for i in range(3))
        return f"{letters}{_perm(k, 10**9):09d}"
    if shape == "uen":
        return f"20{10 + k % 15}{_perm(k, 10**5):05d}{chr(65 + k % 26)}"
    if shape == "se_org":
        s = f"{_perm(k, 10**8):08d}"
        return f"55{s[:4]}-{s[4:]}"
    if shape == "krs":
        return f"{_perm(k, 10**10):010d}"
    if shape == "hu_cg":
        return f"01-09-{_perm(k, 10**6):06d}"
    if shape == "che":
        s = f"{_perm(k, 10**9):09d}"
        return f"CHE-{s[:3]}.{s[3:6]}.{s[6:]}"
    digits = int(shape.removeprefix("digits"))
    return f"{_perm(k, 10**digits):0{digits}d}"


class Population:
    """Plans organizations and the certificates they will hold."""

    def __init__(
        self,
        dice: Dice,
        *,
        cbs: Sequence[CBInfo],
        reference_date: dt.date,
        years: int,
        org_ids: Callable[[], int],
        site_ids: Callable[[], int],
        taken: set[tuple[str, str]],
    ) -> None:
        self.dice = dice
        self.cbs = cbs
        self.ref_ord = reference_date.toordinal()
        self.first_day = (add_months(reference_date, -12 * years) + dt.timedelta(1)).toordinal()
        self.span = self.ref_ord - self.first_day + 1
        self.org_ids = org_ids
        self.site_ids = site_ids
        self.taken = taken  # (country, registration number) already in the database
        self.registrations: Counter[str] = Counter()
        self.country_weights = list(itertools.accumulate(c.weight for c in words.COUNTRIES))
        self.family_weights = list(itertools.accumulate(f.weight for f in words.FAMILIES))
        self.families = range(len(words.FAMILIES))
        self.eligible: dict[tuple[str, ...], list[int]] = {}

    def country(self) -> words.Country:
        return self.dice.weighted(words.COUNTRIES, self.country_weights)

    def family(self) -> int:
        return self.dice.weighted(self.families, self.family_weights)

    def address(self, country: words.Country, city: str) -> str:
        d = self.dice
        street = d.pick(country.streets)
        return f"{d.between(1, 240)} {street}, {d.between(10000, 99999)} {city}"

    def organization(self) -> Org:
        d = self.dice
        country = self.country()
        family = self.family()
        city = d.pick(country.cities)
        style = d.random()
        if style < 0.35:
            head = d.pick(words.NAME_PREFIXES)
        elif style < 0.65:
            head = d.pick(words.BRAND_HEADS) + d.pick(words.BRAND_TAILS)
        elif style < 0.85:
            head = city
        else:
            head = d.pick(country.last_names)
        noun = d.pick(words.FAMILIES[family].nouns)
        name = f"{head} {noun} {d.pick(country.forms)}"
        k = self.registrations[country.code]
        number = registration_number(country.number, k)
        while (country.code, number) in self.taken:
            k += 1
            number = registration_number(country.number, k)
        self.registrations[country.code] = k + 1
        address = self.address(country, city)
        u = d.random()
        sites = []
        for s in range(1 if u < 0.6 else 2 if u < 0.9 else 3):
            if s == 0:
                site_name = words.SITE_NAMES[0]
                if d.chance(0.2):
                    site_name = d.pick(words.SITE_ALTERNATIVES)
                site_country, site_city, site_address = country, city, address
            else:
                site_name = words.SITE_NAMES[s]
                site_country = self.country() if d.chance(0.15) else country
                site_city = d.pick(site_country.cities)
                site_address = self.address(site_country, site_city)
            sites.append(
                {
                    "id": self.site_ids(),
                    "name": site_name,
                    "address": site_address,
                    "city": site_city,
                    "country": site_country.code,
                    "published": s == 0 or d.chance(0.9),
                }
            )
        return Org(
            id=self.org_ids(),
            country=country,
            family=family,
            name=name,
            registration_number=number,
            registration_authority=country.authority.format(city=city),
            address=address,
            sites=sites,
        )

    def cb_for(self, country: str, programmes: tuple[str, ...]) -> int:
        eligible = self.eligible.get(programmes)
        if eligible is None:
            wanted = set(programmes)
            eligible = [i for i, cb in enumerate(self.cbs) if wanted <= cb.programmes]
            if not eligible:
                raise ValueError(f"no demo CB is accepted for {', '.join(programmes)}")
            self.eligible[programmes] = eligible
        local = [i for i in eligible if self.cbs[i].country == country]
        if local and self.dice.chance(0.55):
            return self.dice.pick(local)
        weights = list(itertools.accumulate(self.cbs[i].weight for i in eligible))
        return self.dice.weighted(eligible, weights)

    def grant_day(self) -> int:
        """Half the grants spread evenly, half more often in recent years (the scheme
        grows); none at a weekend."""
        d = self.dice
        u = d.random()
        x = u if d.chance(0.5) else math.sqrt(u)
        day = self.first_day + min(int(x * self.span), self.span - 1)
        wd = weekday(day)
        if wd == 5:
            day -= 1
        elif wd == 6:
            day = day + 1 if day < self.ref_ord else day - 2
        return day

    def plan(
        self, certificates: int, *, keep: Callable[[Org], bytes], progress: TextIO | None
    ) -> tuple[list[bytes], list[Plan]]:
        """Organizations, each handed to ``keep`` as soon as it is planned and kept as what
        that returns, and their certificates in grant order."""
        orgs: list[bytes] = []
        plans: list[Plan] = []
        bar = tqdm(
            desc="organizations",
            unit="org",
            file=progress,
            disable=progress is None,
            mininterval=0.5,
        )
        with bar:
            while len(plans) < certificates:
                self._plan_one(certificates, plans, keep, orgs)
                bar.update(1)
        plans.sort()
        return orgs, plans

    def _plan_one(
        self,
        certificates: int,
        plans: list[Plan],
        keep: Callable[[Org], bytes],
        orgs: list[bytes],
    ) -> None:
        """Plan one organization and its one to three certificates."""
        d = self.dice
        org = self.organization()
        u = d.random()
        count = min(1 if u < 0.85 else 2 if u < 0.97 else 3, certificates - len(plans))
        first_cb = -1
        earliest = self.ref_ord
        for j in range(count):
            family = org.family if j == 0 or d.chance(0.6) else self.family()
            fam = words.FAMILIES[family]
            extra = bool(fam.extra_programme) and d.chance(0.2)
            design = bool(fam.design_categories) and d.chance(0.1)
            programmes = fam.programmes + ((fam.extra_programme,) if extra else ())
            if first_cb >= 0 and d.chance(0.7) and set(programmes) <= self.cbs[first_cb].programmes:
                cb = first_cb  # most holders stay with their CB
            else:
                cb = self.cb_for(org.country.code, programmes)
            first_cb = cb if first_cb < 0 else first_cb
            day = self.grant_day()
            seconds = OFFICE_START + d.below(OFFICE_SECONDS)
            plans.append(Plan(day, seconds, len(orgs), cb, family, extra, design))
            earliest = min(earliest, day)
        # Registered well before its first application.
        org.created = earliest - d.between(230, 600)
        orgs.append(keep(org))
