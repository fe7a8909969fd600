"""The public register pages: search, certificate, "was it valid on", organization
and CB directory. Server-rendered, no account, public fields only, a bounded number of
queries per page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apcert.bodies.models import CBAcceptance
from apcert.bodies.services import cb_acceptance_transition, cb_create
from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    NewScopeLine,
    certificate_holder_renamed,
    certificate_restore,
    certificate_site_add,
    certificate_suspend,
    certificate_transfer,
    certificate_withdraw,
)
from apcert.organizations.services import organization_create, organization_rename
from apcert.register import search as register_search
from apcert.register.search import FacetCount, SearchHit, SearchQuery, SearchResult
from apcert.schemes.models import Standard
from tests.factories import World, make_user, on_day
from tests.flows_support import reported, visit
from tests.test_api_public import granted_with_unpublished_site

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _within_the_maximum_suspension() -> Iterator[None]:
    # The register shows a suspension that has run to the scheme's maximum as a withdrawal,
    # whatever the sweep has recorded: these tests read certificates suspended in June 2026
    # on a day when the suspension still holds.
    with time_machine.travel(dt.datetime(2026, 7, 1, 10, 0), tick=False):
        yield


SUSPENDED_ON = dt.date(2026, 6, 1)
RESTORED_ON = dt.date(2026, 7, 1)
SECRET = "secret complaint text"
RESTORE_NOTE = "Complaint closed after the audit"


# --- a small HTML reader: enough structure to assert on ids, links and text ---------------

VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
#: Elements whose text reads apart from their neighbours' (cells, items, paragraphs).
BLOCKS = {"dd", "div", "dt", "h1", "h2", "h3", "li", "p", "td", "th", "tr", "ul", "ol"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Any] = field(default_factory=list)  # Node | str

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Node) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child.tag in BLOCKS:
                    parts.append(" ")
                    walk(child)
                    parts.append(" ")
                else:
                    walk(child)

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self) -> Any:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if n.tag == tag and all(_attr_matches(n, k, v) for k, v in attrs.items())
        ]

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}>"
        return found[0]

    def by_id(self, ident: str) -> Node:
        found = [n for n in self.iter() if n.attrs.get("id") == ident]
        assert len(found) == 1, f"{len(found)} elements with id={ident!r}"
        return found[0]

    def has_id(self, ident: str) -> bool:
        return any(n.attrs.get("id") == ident for n in self.iter())


def _attr_matches(node: Node, name: str, value: str) -> bool:
    """``class_="x"`` matches one of the classes; other names (``aria_label``) exactly."""
    if name == "class_":
        return value in node.attrs.get("class", "").split()
    return node.attrs.get(name.rstrip("_").replace("_", "-")) == value


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v if v is not None else "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(response: Any) -> Node:
    builder = _TreeBuilder()
    builder.feed(response.content.decode())
    builder.close()
    return builder.root


def options(select: Node) -> list[tuple[str, str]]:
    return [(o.attrs["value"], o.text) for o in select.find_all("option")]


def cert_url(number: str, query: str = "") -> str:
    return f"/certificates/{quote(number)}" + (f"?{query}" if query else "")


def get(client: Client, url: str, status: int = 200) -> Node:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert response["Content-Type"] == "text/html; charset=utf-8"
    # No session, no CSRF token: a public page sets no cookie and does not vary on one.
    assert not response.cookies, url
    assert "Cookie" not in response.get("Vary", ""), url
    return parse(response)


# --- building certificates ------------------------------------------------------------------


def suspended_then_restored(world: World) -> Certificate:
    cert = world.granted()
    dm = world.team.decision_maker
    cert = certificate_suspend(
        actor=dm, certificate=cert, reason_category="complaint", reason=SECRET,
        decided_on=SUSPENDED_ON,
    )  # fmt: skip
    return certificate_restore(
        actor=dm, certificate=cert, reason=RESTORE_NOTE, decided_on=RESTORED_ON
    )


def with_unpublished_site_added(world: World) -> Certificate:
    """Issue 2 adds a scope line at ``world.site2``, which the holder does not publish."""
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    return certificate_site_add(
        actor=world.team.decision_maker,
        certificate=cert,
        assessment=a,
        new_scope_lines=[
            NewScopeLine(
                category="PWB", site=world.site2, wording="Printed boards, second line",
                standards=("ISO 9001:2015",),
            )
        ],
        decided_on=reported(a),
    )  # fmt: skip


def other_world() -> World:
    """A second CB and holder (another code, another organization)."""
    return World.build()


# --- the base template ----------------------------------------------------------------------


def test_pages_share_an_accessible_frame(world: World, client: Client) -> None:
    cert = world.granted()
    for url in ("/", cert_url(cert.number), "/bodies/", f"/organizations/{world.org.pk}"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        page = parse(response)
        assert page.find("html").attrs["lang"] == "en"
        assert page.find("meta", name="viewport").attrs["content"] == (
            "width=device-width, initial-scale=1"
        )
        skip = page.find_all("a")[0]
        assert (skip.attrs["href"], skip.text) == ("#main", "Skip to the content")
        assert [n.tag for n in page.find("body").children if isinstance(n, Node)] == [
            "a",
            "header",
            "main",
            "footer",
        ]
        assert page.by_id("main").tag == "main"
        assert '<link rel="stylesheet" href="/static/register/register.css">' in html
        # every input and select has a label
        ids = {n.attrs["for"] for n in page.find_all("label")}
        fields = page.find_all("input") + page.find_all("select")
        assert all(f.attrs.get("id") in ids for f in fields), url


def test_the_admin_is_still_at_admin(client: Client) -> None:
    assert client.get("/admin/").status_code == 302


# --- search ---------------------------------------------------------------------------------


def test_search_page_lists_results_with_filters_and_counts(world: World, client: Client) -> None:
    # given two holders, each with a certificate from its own CB, and one suspended
    first = world.granted()
    second_world = other_world()
    second = second_world.granted()
    certificate_suspend(
        actor=second_world.team.decision_maker, certificate=second, reason_category="complaint",
        reason=SECRET, decided_on=SUSPENDED_ON,
    )  # fmt: skip
    # when the front page is opened with no search
    page = get(client, "/?sort=number")
    # then the GET form, its filters with counts, and both results are there
    form = page.by_id("search")
    assert (form.attrs["method"], form.attrs["action"]) == ("get", "/")
    assert form.find("input", name="q").attrs["type"] == "search"
    assert form.find_all("button", type="submit")
    assert options(form.find("select", name="status")) == [
        ("", "Any"),
        ("current", "Current (1)"),
        ("suspended", "Suspended (1)"),
    ]
    assert options(form.find("select", name="country")) == [("", "Any"), ("DE", "DE (2)")]
    codes = sorted([world.team.cb.code, second_world.team.cb.code])
    assert options(form.find("select", name="cb")) == [
        ("", "Any"),
        *[(code, f"{code} – Cert Body {code} (1)") for code in codes],
    ]
    assert options(form.find("select", name="category")) == [
        ("", "Any"),
        ("EPL", "EPL – Electroplating (2)"),
    ]
    assert [s.attrs["name"] for s in form.find_all("select")] == [
        *register_search.FACETS,
        "sort",
    ]
    assert page.by_id("result-count").text == "2 certificates."
    hits = page.by_id("results").find_all("li")
    assert [(h.find("a").attrs["href"], h.find("a").text) for h in hits] == [
        (cert_url(c.number), c.number) for c in sorted([first, second], key=lambda c: c.number)
    ]
    texts = {h.find("a").text: h.text for h in hits}
    assert world.org.legal_name in texts[first.number]
    assert second_world.org.legal_name in texts[second.number]
    assert "Suspended" in texts[second.number]
    assert not page.find_all("nav", aria_label="Pagination")  # one page only


def test_search_words_and_a_filter_narrow_the_results(world: World, client: Client) -> None:
    first = world.granted()
    second_world = other_world()
    second_world.granted()
    # when searching by the holder's name
    page = get(client, "/?" + f"q={quote(world.org.legal_name)}")
    assert page.by_id("result-count").text == f"1 certificate for “{world.org.legal_name}”."
    assert [a.text for a in page.by_id("results").find_all("a")] == [first.number]
    assert page.find("input", name="q").attrs["value"] == world.org.legal_name
    # and by a filter, which is shown as in use with a link that removes it
    page = get(client, f"/?cb={world.team.cb.code}")
    assert page.by_id("result-count").text == "1 certificate, filtered."
    chosen = [o for o in page.find("select", name="cb").find_all("option") if "selected" in o.attrs]
    assert [o.attrs["value"] for o in chosen] == [world.team.cb.code]
    in_use = page.find("ul", class_="active-filters")
    assert in_use.text == (
        f"Certification body: {world.team.cb.code} remove the certification body filter"
    )
    assert in_use.find("a").attrs["href"] == "/"


def test_search_pages_link_to_each_other(world: World, client: Client) -> None:
    # given three certificates
    certs = [world.granted() for _ in range(3)]
    numbers = sorted(c.number for c in certs)
    # when they are listed one a page
    page = get(client, "/?sort=number&per_page=1&page=2")
    # then page 2 shows the second, numbered from 2, and links both ways
    results = page.by_id("results")
    assert results.attrs["start"] == "2"
    assert [a.text for a in results.find_all("a")] == [numbers[1]]
    nav = page.find("nav", aria_label="Pagination")
    assert nav.find("a", rel="prev").attrs["href"] == "/?sort=number&per_page=1"
    assert nav.find("a", rel="next").attrs["href"] == "/?sort=number&page=3&per_page=1"
    assert nav.find("a", aria_current="page").text == "Page 2"
    # the last page has no next link
    last = get(client, "/?sort=number&per_page=1&page=3").find("nav", aria_label="Pagination")
    assert not last.find_all("a", rel="next")
    assert last.find("a", rel="prev").attrs["href"] == "/?sort=number&page=2&per_page=1"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "sort=sideways",
            "sort: one of relevance, newest, number, holder, expires, changed.",
        ),
        ("status=draft", "status: one of current, suspended, withdrawn, cancelled, expired."),
        ("page=0", "page: from 1 to 500."),
        ("per_page=many", "per_page: a whole number."),
    ],
)
def test_a_bad_search_parameter_is_a_400_with_a_message(
    reference: None, client: Client, query: str, message: str
) -> None:
    page = get(client, f"/?q=plating&{query}", status=400)
    alert = page.find("div", role="alert")
    assert alert.find("p").text == message
    assert not page.has_id("results")
    # the form stays, with the words as typed
    assert page.by_id("search").find("input", name="q").attrs["value"] == "plating"


def test_more_matches_than_counted_and_corrected_words(
    reference: None, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a search engine answering "more than 10,000", without counts, after correcting
    # a typo (the rendering of the contract's edge cases)
    hit = SearchHit(
        number="IECQ-A XX 26.0001", holder_name="Plating Works", country="DE",
        organization_id=1, cb_code="XX", cb_name="Cert Body XX", scheme_code="AP",
        programmes=("AP",), status="current", status_since=dt.date(2026, 3, 24),
        expires_on=dt.date(2029, 3, 23), cities=("Dresden",), categories=("EPL",),
    )  # fmt: skip

    def huge(query: SearchQuery) -> SearchResult:
        return SearchResult(
            query=query, hits=[hit], total=10_000, total_exact=False, facets={},
            corrected="plating",
        )  # fmt: skip

    monkeypatch.setattr(register_search, "search", huge)
    page = get(client, "/?q=plaitng&country=DE&page=3")
    assert page.by_id("result-count").text == (
        "More than 10,000 certificates for “plaitng”, filtered."
    )
    assert page.find("p", class_="hint").text.startswith(
        "There are too many matches to count them by filter value: the counts beside each "
        "filter appear once the search is narrowed"
    )
    assert page.find("p", class_="corrected").text == (
        "Showing results for plating (you searched for “plaitng”)."
    )
    # a chosen filter stays chosen even without counts
    assert options(page.find("select", name="country")) == [("", "Any"), ("DE", "DE")]
    nav = page.find("nav", aria_label="Pagination")
    assert nav.find("a", rel="next").attrs["href"] == "/?q=plaitng&country=DE&page=4"


def test_facet_labels_come_from_the_search(
    reference: None, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def counted(query: SearchQuery) -> SearchResult:
        return SearchResult(
            query=query, hits=[], total=0, total_exact=True,
            facets={"country": [FacetCount("DE", "Germany", 12)]},
        )  # fmt: skip

    monkeypatch.setattr(register_search, "search", counted)
    page = get(client, "/")
    assert options(page.find("select", name="country")) == [
        ("", "Any"),
        ("DE", "DE – Germany (12)"),
    ]
    assert page.by_id("result-count").text == "No certificate matches."


def test_search_page_queries_are_bounded(
    world: World, client: Client, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        world.granted()
    other_world().granted()
    with django_assert_max_num_queries(10):
        get(client, "/?sort=number")
    with django_assert_max_num_queries(10):
        get(client, f"/?q=plating&country=DE&cb={world.team.cb.code}")


# --- the certificate page -------------------------------------------------------------------


def test_certificate_page_shows_the_public_record(world: World, client: Client) -> None:
    cert = world.granted()
    page = get(client, cert_url(cert.number))
    assert page.find("h1").text == f"Certificate {cert.number}"
    status = page.by_id("status")
    assert status.find("h2").text == "Status: Current"
    assert status.find("p").text == "The certificate is valid."
    assert [(d.find("dt").text, d.find("dd").text) for d in status.find_all("div")] == [
        ("Current since", "24 March 2026"),
        ("Reason", "certification granted"),
        ("Valid until", "23 March 2029"),
    ]
    details = page.by_id("details")
    facts = {d.find("dt").text: d.find("dd").text for d in details.find("dl").find_all("div")}
    code = world.team.cb.code
    assert facts == {
        "Holder": f"{world.org.legal_name} (DE)",
        "Scheme": "AP – IECQ Approved Process Scheme",
        "Programmes": "AP – IECQ Approved Process (general)",
        "Certification body": f"{code} Cert Body {code} (DE)",
        "First issued": "24 March 2026",
        "Current issue": "Issue 1 of 24 March 2026",
        "Valid": "from 24 March 2026 until 23 March 2029",
    }
    assert details.find("ul", class_="sites").text == "Main plant, Dresden (DE)"
    assert [r.text for r in details.find("table").find("tbody").find_all("tr")] == [
        "EPL – Electroplating EPL process at the main plant Main plant ISO 9001:2015"
    ]
    assert details.find("ul", class_="standards").text == (
        "ISO 9001:2015 Quality management systems - Requirements"
    )
    links = {a.attrs["href"] for a in page.find_all("a")}
    assert {f"/organizations/{world.org.pk}", f"/bodies/{code}"} <= links


@pytest.mark.parametrize(
    ("action", "category", "words", "meaning", "label"),
    [
        (
            "suspend", "complaint", "Suspended",
            "The certificate is not valid while it is suspended; it may be restored.",
            "complaint",
        ),
        (
            "withdraw", "misuse", "Withdrawn",
            "The certification body has withdrawn the certificate; it is no longer valid.",
            "misuse of the certificate or mark",
        ),
    ],
)  # fmt: skip
def test_status_in_words_with_its_reason_category_never_the_free_text(
    world: World,
    client: Client,
    action: str,
    category: str,
    words: str,
    meaning: str,
    label: str,
) -> None:
    # given a certificate suspended or withdrawn with a free-text reason
    cert = world.granted()
    service = certificate_suspend if action == "suspend" else certificate_withdraw
    service(
        actor=world.team.decision_maker, certificate=cert, reason_category=category,
        reason=SECRET, decided_on=SUSPENDED_ON,
    )  # fmt: skip
    # when its page is read
    response = client.get(cert_url(cert.number))
    page = parse(response)
    # then the status says it in words, with the date and the public reason category
    status = page.by_id("status")
    assert status.find("h2").text == f"Status: {words}"
    assert status.find("p").text == meaning
    facts = [(d.find("dt").text, d.find("dd").text) for d in status.find_all("div")]
    assert facts[:2] == [(f"{words} since", "1 June 2026"), ("Reason", label)]
    rows = page.by_id("history").find("table", class_="status-changes").find_all("tr")[1:]
    assert [r.text for r in rows] == [
        f"1 June 2026 {words} {label}",
        "24 March 2026 Current certification granted",
    ]
    # and the free-text reason appears nowhere
    assert SECRET not in response.content.decode()


def test_a_superseded_standard_edition_is_marked(world: World, client: Client) -> None:
    # given a certificate declaring ISO 9001:2015, which a newer edition later supersedes
    cert = world.granted()
    newer = Standard.objects.create(
        designation="ISO 9001", edition="2026", title="Quality management systems - Requirements"
    )
    Standard.objects.filter(designation="ISO 9001", edition="2015").update(
        status="superseded", superseded_by=newer
    )
    # then the page marks the edition the certificate declares as superseded
    standards = get(client, cert_url(cert.number)).find("ul", class_="standards")
    assert standards.text == (
        "ISO 9001:2015 Quality management systems - Requirements Superseded by ISO 9001:2026"
    )


def test_a_withdrawn_standard_edition_is_marked(world: World, client: Client) -> None:
    cert = world.granted()
    Standard.objects.filter(designation="ISO 9001", edition="2015").update(
        status="withdrawn", withdrawn_on=dt.date(2027, 9, 15)
    )
    standards = get(client, cert_url(cert.number)).find("ul", class_="standards")
    assert standards.find("span", class_="flag").text == "Withdrawn on 15 September 2027"


def test_history_shows_what_changed_and_never_an_unpublished_site(
    world: World, client: Client
) -> None:
    # given a certificate whose issue 2 added a line at a site the holder does not publish
    cert = with_unpublished_site_added(world)
    response = client.get(cert_url(cert.number))
    page = parse(response)
    # then the issues table, newest first, says what changed without naming the site
    rows = page.by_id("history").find("table", class_="issues").find("tbody").find_all("tr")
    issued = cert.issues.get(issue_number=2).issued_on
    assert [[td.text for td in r.find_all("td")] for r in rows] == [
        [
            "2",
            f"{issued.day} {issued.strftime('%B')} {issued.year}",
            "24 March 2026 – 23 March 2029",
            "sites changed",
            "Site added: an unpublished site; "
            "Scope line added: PWB at an unpublished site (Printed wiring board fabrication)",
        ],
        [
            "1",
            "24 March 2026",
            "24 March 2026 – 23 March 2029",
            "initial certification",
            "First issue",
        ],
    ]
    # the scope line at that site shows, its site does not; the site list has only the
    # published one; and the unpublished site's name and city are nowhere on the page
    scope = page.by_id("details").find("table").find("tbody").find_all("tr")
    assert [r.find_all("td")[2].text for r in scope] == ["Main plant", "not published"]
    assert page.find("ul", class_="sites").text == "Main plant, Dresden (DE)"
    html = response.content.decode()
    assert "Second plant" not in html
    assert "Leipzig" not in html
    assert [v for v, _ in options(page.by_id("valid-on").find("select", name="site"))] == [
        "",
        str(world.site.pk),
    ]


def test_certificate_page_queries_are_bounded(
    world: World, client: Client, django_assert_max_num_queries: Any
) -> None:
    cert = with_unpublished_site_added(world)
    with on_day(dt.date(2026, 9, 1)):
        cert = certificate_suspend(
            actor=world.team.decision_maker, certificate=cert, reason_category="complaint",
            reason=SECRET, decided_on=dt.date(2026, 9, 1),
        )  # fmt: skip
    # the register's latest change (the page's cache validator), the certificate, its
    # issues, its status changes, the standards in the catalogue
    with django_assert_max_num_queries(5):
        get(client, cert_url(cert.number))
    # and the as-of answer: the status and the issue on that day
    with django_assert_max_num_queries(7):
        get(client, cert_url(cert.number, f"on=2026-05-01&category=EPL&site={world.site.pk}"))


def test_a_transferred_certificate_links_both_ways(world: World, client: Client) -> None:
    # given a certificate transferred to another CB
    old = world.granted()
    new_team = World.make_cb(world.secretariat, "NX", dt.date(2020, 1, 1), programmes=("AP",))
    a = visit(world, old, "transfer_review", team=new_team)
    new = certificate_transfer(
        actor=new_team.decision_maker, certificate=old, assessment=a,
        decided_on=reported(a) + dt.timedelta(days=5), rationale="Transfer review satisfactory",
    )  # fmt: skip
    # then the old one reads withdrawn, "transferred", and points to the new one
    status = get(client, cert_url(old.number)).by_id("status")
    assert status.find("h2").text == "Status: Withdrawn"
    facts = [(d.find("dt").text, d.find("dd").text) for d in status.find_all("div")]
    assert facts[1] == ("Reason", "transferred to another certification body")
    assert status.find_all("p")[1].text == (
        f"This certificate was transferred to another certification body: see {new.number}."
    )
    assert status.find_all("p")[1].find("a").attrs["href"] == cert_url(new.number)
    # and the new one points back
    status = get(client, cert_url(new.number)).by_id("status")
    assert status.find_all("p")[1].text == f"Transferred from certificate {old.number}."


# --- a number not in the register ------------------------------------------------------------


def test_an_unknown_number_is_a_404_with_close_matches(world: World, client: Client) -> None:
    # given a certificate ending .0001
    cert = world.granted()
    asked = cert.number[:-1] + "2"
    # when a number one digit away is asked for
    page = get(client, cert_url(asked), status=404)
    # then the page says plainly there is none, and suggests the close one
    assert page.find("h1").text == f"No certificate {asked}"
    assert page.find("p").text.startswith(
        f"There is no certificate {asked} in the public register."
    )
    suggestions = page.by_id("suggestions").find_all("a")
    assert [(a.attrs["href"], a.text) for a in suggestions] == [
        (cert_url(cert.number), cert.number)
    ]


def test_a_number_typed_in_another_case_or_spacing_leads_to_the_certificate(
    world: World, client: Client
) -> None:
    cert = world.granted()
    typed = cert.number.lower().replace(" ", "")  # iecq-at1226.0001
    response = client.get(cert_url(typed))
    assert response.status_code == 302
    assert response["Location"] == cert_url(cert.number)


def test_a_number_far_from_any_has_no_suggestions(reference: None, client: Client) -> None:
    page = get(client, cert_url("IECQ-A ZZ 26.9999"), status=404)
    assert not page.has_id("suggestions")
    assert "No certificate has a number close to it." in page.by_id("main").text


def test_a_draft_certificate_has_no_page(world: World, client: Client) -> None:
    granted = world.granted()
    app = world.accepted_application()
    draft = Certificate.objects.create(
        number=f"IECQ-A {world.team.cb.code} 26.0002", number_year=26, number_serial=2,
        cb=world.team.cb, scheme=world.scheme, organization=world.org, application=app,
        status="draft", status_since=dt.date(2026, 3, 24), first_issued_on=dt.date(2026, 3, 24),
        initial_decision_on=dt.date(2026, 3, 24), expires_on=dt.date(2029, 3, 23),
    )  # fmt: skip
    page = get(client, cert_url(draft.number), status=404)
    assert page.find("h1").text == f"No certificate {draft.number}"
    # the suggestions never include a draft (one digit from the number asked for)
    asked = draft.number[:-1] + "3"
    page = get(client, cert_url(asked), status=404)
    assert [a.text for a in page.by_id("suggestions").find_all("a")] == [granted.number]


# --- was it valid on ... ----------------------------------------------------------------------


def answer_of(page: Node) -> str:
    return page.by_id("valid-on-answer").text


def test_valid_on_form_offers_the_certificates_categories_and_published_sites(
    world: World, client: Client
) -> None:
    cert = granted_with_unpublished_site(world)
    form = get(client, cert_url(cert.number)).by_id("valid-on")
    assert form.attrs["method"] == "get"
    # a date typed, not picked from a control whose display follows the browser's locale
    date = form.find("input", name="on")
    assert date.attrs["type"] == "text" and date.attrs["placeholder"] == "YYYY-MM-DD"
    assert "valid-on-date-hint" in date.attrs["aria-describedby"]
    assert options(form.find("select", name="category")) == [
        ("", "Any process in the scope"),
        ("EPL", "EPL – Electroplating"),
        ("PWB", "PWB – Printed wiring board fabrication"),
    ]
    assert options(form.find("select", name="site")) == [
        ("", "Any site"),
        (str(world.site.pk), "Main plant, Dresden"),
    ]


def test_valid_on_a_day_it_was_current(world: World, client: Client) -> None:
    cert = suspended_then_restored(world)
    page = get(client, cert_url(cert.number, f"on=2026-05-01&category=EPL&site={world.site.pk}"))
    assert answer_of(page) == (
        "Valid for Electroplating (EPL) at Main plant, Dresden: on 1 May 2026 the certificate "
        "was current (issue 1, valid until 23 March 2029), and its scope covered this."
    )
    # the question stays in the form
    form = page.by_id("valid-on")
    assert form.find("input", name="on").attrs["value"] == "2026-05-01"
    chosen = [o.attrs["value"] for o in form.find_all("option") if "selected" in o.attrs]
    assert chosen == ["EPL", str(world.site.pk)]


def test_not_valid_on_a_day_it_was_suspended(world: World, client: Client) -> None:
    cert = suspended_then_restored(world)
    response = client.get(cert_url(cert.number, "on=2026-06-15"))
    assert response.status_code == 200
    assert answer_of(parse(response)) == (
        "Not valid: on 15 June 2026 the certificate was suspended (reason: complaint)."
    )
    assert SECRET not in response.content.decode()
    assert RESTORE_NOTE not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("on=2026-03-23", "Not valid: on 23 March 2026 the certificate had not yet been issued."),
        (
            # No surveillance was carried out: suspended from 24 May 2027, withdrawn when the
            # maximum suspension ran out, before the validity ended.
            "on=2029-03-24",
            "Not valid: on 24 March 2029 the certificate was withdrawn (reason: suspended "
            "longer than allowed).",
        ),
        (
            "on=2026-05-01&category=PWB",
            "Not valid for Printed wiring board fabrication (PWB): on 1 May 2026 the "
            "certificate was current, but its scope did not cover this.",
        ),
        (
            "on=2026-05-01&category=EPL",
            "Valid for Electroplating (EPL): on 1 May 2026 the certificate was current "
            "(issue 1, valid until 23 March 2029), and its scope covered this.",
        ),
        (
            "on=2026-05-01",
            "Valid: on 1 May 2026 the certificate was current (issue 1, valid until "
            "23 March 2029).",
        ),
        # typed as every page prints a date, whatever the browser's locale
        (
            "on=1+May+2026",
            "Valid: on 1 May 2026 the certificate was current (issue 1, valid until "
            "23 March 2029).",
        ),
        (
            "on=1+may+2026",
            "Valid: on 1 May 2026 the certificate was current (issue 1, valid until "
            "23 March 2029).",
        ),
    ],
)
def test_valid_on_other_days_and_categories(
    world: World, client: Client, query: str, answer: str
) -> None:
    cert = world.granted()
    assert answer_of(get(client, cert_url(cert.number, query))) == answer


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("on=2026-13-01", "'2026-13-01' is not a date: give it as 2026-12-07 or 7 December "
                          "2026."),
        ("on=yesterday", "'yesterday' is not a date: give it as 2026-12-07 or 7 December 2026."),
        ("on=7/12/2026", "'7/12/2026' is not a date: give it as 2026-12-07 or 7 December 2026."),
        ("on=", "Give the date to check, as 2026-12-07 or 7 December 2026."),
        ("on=2026-05-01&category=NOPE", "There is no process category 'NOPE'."),
        ("on=2026-05-01&site=main", "This certificate publishes no site 'main'."),
    ],
)  # fmt: skip
def test_a_bad_valid_on_question_gets_a_clear_message(
    world: World, client: Client, query: str, message: str
) -> None:
    cert = world.granted()
    page = get(client, cert_url(cert.number, query), status=400)
    answer = page.by_id("valid-on-answer")
    assert [li.text for li in answer.find_all("li")] == [message]
    assert answer.text.startswith("The question cannot be answered:")
    assert page.find("h1").text == f"Certificate {cert.number}"  # the page is still there


def test_asking_about_an_unpublished_site_reads_like_a_site_never_had(
    world: World, client: Client
) -> None:
    cert = granted_with_unpublished_site(world)
    answers = []
    for site_id in (world.site2.pk, 999_999):
        response = client.get(cert_url(cert.number, f"on=2026-05-01&site={site_id}"))
        assert response.status_code == 400
        assert "Second plant" not in response.content.decode()
        answers.append(answer_of(parse(response)).replace(str(site_id), "N"))
    assert (
        answers == ["The question cannot be answered: This certificate publishes no site 'N'."] * 2
    )


# --- organizations ---------------------------------------------------------------------------


def test_organization_page_lists_its_public_certificates(world: World, client: Client) -> None:
    # given a holder with two certificates, one of them suspended
    first = world.granted()
    second = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker, certificate=second, reason_category="unpaid_fees",
        reason=SECRET, decided_on=SUSPENDED_ON,
    )  # fmt: skip
    # when its page is read
    response = client.get(f"/organizations/{world.org.pk}")
    page = parse(response)
    # then its name and country, and both certificates with their status
    assert response.status_code == 200
    assert page.find("h1").text == world.org.legal_name
    assert page.by_id("certificate-count").text == "2"
    rows = page.find("table", class_="certificates").find("tbody").find_all("tr")
    code = world.team.cb.code
    assert [r.text for r in rows] == [
        f"{first.number} Current since 24 March 2026 AP {code} Cert Body {code} 23 March 2029",
        f"{second.number} Suspended since 1 June 2026 AP {code} Cert Body {code} 23 March 2029",
    ]
    assert rows[0].find("a").attrs["href"] == cert_url(first.number)
    # nothing private: not the registration number
    assert world.org.registration_number not in response.content.decode()


def test_organization_name_is_the_one_its_certificates_publish(
    world: World, client: Client
) -> None:
    # given a holder renamed in its own records, not yet on a certificate
    cert = world.granted()
    old_name = world.org.legal_name
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Renamed GmbH")
    assert get(client, f"/organizations/{world.org.pk}").find("h1").text == old_name
    # when the certificate is re-issued with the new name, the page follows
    certificate_holder_renamed(
        actor=world.team.decision_maker, certificate=cert, decided_on=dt.date(2026, 5, 4)
    )
    assert get(client, f"/organizations/{world.org.pk}").find("h1").text == "Renamed GmbH"


def test_organization_without_a_public_certificate_is_404(world: World, client: Client) -> None:
    # an organization that has only applied
    world.accepted_application()
    page = get(client, f"/organizations/{world.org.pk}", status=404)
    assert page.find("h1").text == "Organization not found"
    assert page.find("p").text == (
        f"There is no organization {world.org.pk} in the public register: it holds no "
        "published certificate."
    )
    # and ids that do not exist at all, however large
    for organization_id in (999_999, 2**64):
        get(client, f"/organizations/{organization_id}", status=404)


def test_organization_page_queries_are_bounded(
    world: World, client: Client, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        world.granted()
    # the register's latest change (the page's cache validator), then the holder
    with django_assert_max_num_queries(2):
        get(client, f"/organizations/{world.org.pk}")


# --- certification bodies --------------------------------------------------------------------


def test_body_directory_lists_accepted_bodies(world: World, client: Client) -> None:
    # given one CB with a current and a suspended certificate, one with a suspended
    # acceptance, and one never accepted
    world.granted()
    suspended = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker, certificate=suspended, reason_category="complaint",
        reason=SECRET, decided_on=SUSPENDED_ON,
    )  # fmt: skip
    second = World.make_cb(world.secretariat, "ZQ", dt.date(2021, 2, 3), programmes=("AP",))
    acceptance = CBAcceptance.objects.get(cb=second.cb)
    cb_acceptance_transition(
        actor=world.secretariat, acceptance=acceptance, action="suspend", reason="audit due"
    )
    cb_create(actor=world.secretariat, code="NA", name="Not Accepted", country="FR")
    # when the directory is read
    page = get(client, "/bodies/")
    # then the accepted CBs are there with their acceptances and current certificates
    cards = page.find("ul", class_="bodies").find_all("li", class_="body-card")
    code = world.team.cb.code
    assert [c.find("h2").text for c in cards] == [f"{code} Cert Body {code}", "ZQ Cert Body ZQ"]
    assert cards[0].find("p").text == "DE · 1 current certificate"
    assert [li.text for li in cards[0].find("ul").find_all("li")] == [
        "AP AP – IECQ Approved Process (general): accepted since 1 January 2020",
        "AP AP-CAP – IECQ AP Counterfeit Avoidance Programme: accepted since 1 January 2020",
        "AP AP-ESD – IECQ AP ESD Control Programme: accepted since 1 January 2020",
    ]
    assert cards[1].find("p").text == "DE · 0 current certificates"
    assert [li.text for li in cards[1].find("ul").find_all("li")] == [
        "AP AP – IECQ Approved Process (general): suspended"
    ]
    assert cards[0].find("a").attrs["href"] == f"/bodies/{code}"
    assert "Not Accepted" not in page.text
    assert "audit due" not in page.text


def test_body_page_shows_acceptances_and_current_certificates(world: World, client: Client) -> None:
    # given three current certificates and one withdrawn
    certs = [world.granted() for _ in range(3)]
    withdrawn = world.granted()
    certificate_withdraw(
        actor=world.team.decision_maker, certificate=withdrawn, reason_category="misuse",
        reason=SECRET, decided_on=SUSPENDED_ON,
    )  # fmt: skip
    code = world.team.cb.code
    # when the CB's page is read, two a page
    page = get(client, f"/bodies/{code}?per_page=2")
    # then its acceptances, its count of current certificates and the first page
    assert page.find("h1").text == f"{code} Cert Body {code}"
    acceptances = page.find("table", class_="acceptances").find("tbody").find_all("tr")
    assert [r.text for r in acceptances] == [
        "AP AP – IECQ Approved Process (general) in force 1 January 2020 – all",
        "AP AP-CAP – IECQ AP Counterfeit Avoidance Programme in force 1 January 2020 – all",
        "AP AP-ESD – IECQ AP ESD Control Programme in force 1 January 2020 – all",
    ]
    assert page.by_id("result-count").text == "3 current certificates, 2 a page."
    listed = page.find("table", class_="certificates").find("tbody").find_all("tr")
    numbers = sorted(c.number for c in certs)
    assert [r.find("a").text for r in listed] == numbers[:2]
    assert f"{world.org.legal_name} (DE)" in listed[0].text
    nav = page.find("nav", aria_label="Pagination")
    assert nav.find("a", rel="next").attrs["href"] == f"/bodies/{code}?page=2&per_page=2"
    # and the second page links back
    page2 = get(client, f"/bodies/{code}?page=2&per_page=2")
    rows = page2.find("table", class_="certificates").find("tbody").find_all("tr")
    assert [r.find("a").text for r in rows] == numbers[2:]
    prev = page2.find("nav", aria_label="Pagination").find("a", rel="prev")
    assert prev.attrs["href"] == f"/bodies/{code}?per_page=2"
    assert withdrawn.number not in page.text + page2.text


def test_body_page_errors(world: World, client: Client) -> None:
    code = world.team.cb.code
    assert get(client, "/bodies/NOPE", status=404).find("p").text == (
        "There is no certification body 'NOPE' in the public register."
    )
    alert = get(client, f"/bodies/{code}?page=abc", status=400).find("div", role="alert")
    assert alert.find("p").text == "page: a whole number from 1 to 1000000 (not 'abc')."
    missing = get(client, f"/bodies/{code}?page=3", status=404)
    assert missing.find("p").text == (
        f"{code} has 1 page(s) of current certificates; there is no page 3."
    )
    # the code is found whatever its case
    assert get(client, f"/bodies/{code.lower()}").find("h1").text.startswith(code)


def test_body_pages_queries_are_bounded(
    world: World, client: Client, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        world.granted()
    for _ in range(2):
        other_world().granted()
    # (each with the register's latest change first, for the page's cache validator)
    with django_assert_max_num_queries(4):
        get(client, "/bodies/")
    with django_assert_max_num_queries(6):
        get(client, f"/bodies/{world.team.cb.code}")


def test_a_second_organization_is_not_mixed_in(world: World, client: Client) -> None:
    # given another organization certified by the same CB
    org2 = organization_create(
        actor=make_user("other"), legal_name="Other Laminates", country="FR",
        registration_number="FR-1",
    )  # fmt: skip
    world.granted()
    page = get(client, f"/organizations/{world.org.pk}")
    assert "Other Laminates" not in page.text
    get(client, f"/organizations/{org2.pk}", status=404)


def _query_count(client: Client, url: str) -> int:
    from django.db import connection

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return len(ctx.captured_queries)


def test_list_page_queries_do_not_grow_with_the_register(world: World, client: Client) -> None:
    # given the list pages read with one certificate, then with four
    world.granted()
    code = world.team.cb.code
    urls = ["/bodies/", f"/bodies/{code}", f"/organizations/{world.org.pk}", "/?sort=number"]
    for u in urls:  # warm: the search keeps the names of filter values for a few minutes
        client.get(u)
    before = [_query_count(client, u) for u in urls]
    for _ in range(3):
        world.granted()
    # then each page runs as many queries as before
    assert [_query_count(client, u) for u in urls] == before
