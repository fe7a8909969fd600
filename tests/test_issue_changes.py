"""What changed from one certificate issue to the next, read from the two snapshots: the
public "what changed" of every issue. A pure function: no database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apcert.certificates.snapshots import FIRST_ISSUE, change_summary, issue_changes

PLANT = {
    "id": 1,
    "name": "Plant 2",
    "address": "Hafenstrasse 5",
    "city": "Bremen",
    "country": "DE",
    "published": True,
}
HIDDEN = {
    "id": 2,
    "name": "Secret lab",
    "address": "",
    "city": "Kiel",
    "country": "DE",
    "published": False,
}


def line(category: str, site: dict[str, Any], *standards: str, **kw: Any) -> dict[str, Any]:
    return {
        "category": category,
        "category_name": kw.get("name", "Through-hole assembly"),
        "site_id": site["id"],
        "site_name": site["name"],
        "wording": kw.get("wording", f"{category} at {site['name']}"),
        "standards": sorted(standards or ("ISO 9001:2015",)),
    }


def issue(**changes: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "holder": {
            "name": "A GmbH",
            "country": "DE",
            "registration_number": "HRB 1",
            "registration_authority": "Amtsgericht Bremen",
        },
        "sites": [PLANT],
        "programmes": [{"code": "AP", "name": "Approved Process"}],
        "scope_lines": [line("EPL", PLANT, name="Electroplating")],
        "standards": [],  # follows from the lines: never compared on its own
        "valid_from": dt.date(2026, 10, 3),
        "valid_until": dt.date(2029, 10, 2),
    }
    content.update(changes)
    return content


BASE = issue()


def test_issue_1_is_the_first_issue() -> None:
    assert issue_changes(None, BASE) == [FIRST_ISSUE] == ["First issue"]
    assert change_summary(None, BASE) == "First issue"


def test_the_same_content_changes_nothing() -> None:
    assert issue_changes(BASE, issue()) == []
    assert change_summary(BASE, issue()) == ""


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        pytest.param(
            issue(holder={**BASE["holder"], "name": "B GmbH"}),
            ["Holder renamed: 'A GmbH' to 'B GmbH'"],
            id="holder-renamed",
        ),
        pytest.param(
            issue(holder={**BASE["holder"], "country": "AT"}),
            ["Holder's country changed: DE to AT"],
            id="holder-country",
        ),
        pytest.param(
            # The registration number is private: the change is named, its value is not.
            issue(holder={**BASE["holder"], "registration_number": "HRB 2"}),
            ["Holder's registration details updated"],
            id="holder-registration",
        ),
        pytest.param(
            issue(
                sites=[{**PLANT, "name": "Werk Nord"}],
                scope_lines=[
                    {**line("EPL", PLANT, name="Electroplating"), "site_name": "Werk Nord"}
                ],
            ),
            ["Site renamed: 'Plant 2' to 'Werk Nord'"],
            id="site-renamed",
        ),
        pytest.param(
            issue(sites=[{**PLANT, "address": "Ring 1", "city": "Hamburg"}]),
            ["Site moved: Plant 2 to Ring 1, Hamburg (DE)"],
            id="site-moved",
        ),
        pytest.param(
            issue(sites=[{**PLANT, "address": "Ring 1, 28195 Bremen"}]),
            ["Site moved: Plant 2 to Ring 1, 28195 Bremen (DE)"],
            id="site-moved-address-naming-its-city",
        ),
        pytest.param(
            # Publishing a site or not is the register's to show, not a change of content.
            issue(sites=[{**PLANT, "published": False}]),
            [],
            id="site-unpublished",
        ),
        pytest.param(
            issue(
                scope_lines=[
                    line("EPL", PLANT, name="Electroplating"),
                    line("PCBA.THT", PLANT),
                ]
            ),
            ["Scope line added: PCBA.THT at Plant 2 (Through-hole assembly)"],
            id="line-added",
        ),
        pytest.param(
            issue(
                sites=[PLANT, HIDDEN],
                scope_lines=[line("EPL", PLANT, name="Electroplating"), line("PCBA.THT", HIDDEN)],
            ),
            [
                "Site added: an unpublished site",
                "Scope line added: PCBA.THT at an unpublished site (Through-hole assembly)",
            ],
            id="unpublished-site-added",
        ),
        pytest.param(
            issue(
                sites=[PLANT, {**HIDDEN, "published": True}],
                scope_lines=[line("EPL", PLANT, name="Electroplating"), line("PCBA.THT", HIDDEN)],
            ),
            [
                "Site added: Secret lab, Kiel (DE)",
                "Scope line added: PCBA.THT at Secret lab (Through-hole assembly)",
            ],
            id="published-site-added",
        ),
        pytest.param(
            issue(scope_lines=[line("EPL", PLANT, name="Electroplating", wording="Gold plating")]),
            ["Scope wording changed for EPL at Plant 2: 'EPL at Plant 2' to 'Gold plating'"],
            id="wording",
        ),
        pytest.param(
            issue(
                scope_lines=[
                    line("EPL", PLANT, "ISO 9001:2015", "IEC 61340-5-1:2016", name="Electroplating")
                ]
            ),
            ["Standard added to EPL at Plant 2: IEC 61340-5-1:2016"],
            id="standard-added",
        ),
        pytest.param(
            issue(programmes=[*BASE["programmes"], {"code": "ESD", "name": "ESD control"}]),
            ["Programme added: ESD (ESD control)"],
            id="programme-added",
        ),
        pytest.param(
            issue(valid_until=dt.date(2032, 10, 2)),
            ["Validity extended to 2032-10-02"],
            id="renewal",
        ),
        pytest.param(
            issue(valid_until="2029-01-31"),
            ["Validity shortened to 2029-01-31"],
            id="shortened-from-an-iso-date",
        ),
        pytest.param(
            issue(valid_from=dt.date(2027, 1, 1)),
            ["Valid from 2027-01-01"],
            id="valid-from",
        ),
    ],
)
def test_each_change_in_plain_words(new: dict[str, Any], expected: list[str]) -> None:
    assert issue_changes(BASE, new) == expected
    assert change_summary(BASE, new) == "; ".join(expected)


def test_lines_and_sites_removed_name_what_went() -> None:
    before = issue(
        sites=[PLANT, HIDDEN],
        scope_lines=[
            line("EPL", PLANT, name="Electroplating"),
            line("PWB", PLANT, name="PWB fabrication"),
            line("CMF", HIDDEN, name="Component manufacturing"),
        ],
    )
    after = issue(scope_lines=[line("EPL", PLANT, name="Electroplating")])
    assert issue_changes(before, after) == [
        "Site removed: an unpublished site",
        "Scope line removed: PWB at Plant 2 (PWB fabrication)",
        "Scope line removed: CMF at an unpublished site (Component manufacturing)",
    ]


def test_a_new_edition_is_announced_once_whatever_the_lines_declaring_it() -> None:
    old, new = "IEC 61340-5-1:2016", "IEC 61340-5-1:2024"
    before = issue(
        scope_lines=[
            line("EPL", PLANT, "ISO 9001:2015", old, name="Electroplating"),
            line("ESD", PLANT, old, name="ESD control"),
        ]
    )
    after = issue(
        scope_lines=[
            line("EPL", PLANT, "ISO 9001:2015", new, name="Electroplating"),
            line("ESD", PLANT, new, name="ESD control"),
        ]
    )
    assert issue_changes(before, after) == ["Standard updated: IEC 61340-5-1:2016 to :2024"]


def test_a_renewal_with_the_holder_renamed_meanwhile_says_both() -> None:
    after = issue(holder={**BASE["holder"], "name": "B GmbH"}, valid_until=dt.date(2032, 10, 2))
    assert change_summary(BASE, after) == (
        "Holder renamed: 'A GmbH' to 'B GmbH'; Validity extended to 2032-10-02"
    )
