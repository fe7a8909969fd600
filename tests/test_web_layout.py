"""The back office has one skeleton: every section a package with its views, forms and URLs,
every page behind the one section decorator, one current-user helper, one template-tag
module, and views that read through selectors instead of querying models."""

from __future__ import annotations

import ast
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

import apcert.web

WEB = Path(apcert.web.__file__).parent
SECTIONS = ("account", "cb", "org", "sec")


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            found += _patterns(p, prefix + str(p.pattern))
        else:
            found.append((prefix + str(p.pattern), p))
    return found


def test_each_section_is_a_package_with_views_forms_and_urls() -> None:
    for name in SECTIONS:
        package = WEB / "sections" / name
        for module in ("forms.py", "urls.py"):
            assert (package / module).is_file(), (name, module)
        # views.py, or a views package once it outgrows one module
        assert (package / "views.py").is_file() or (package / "views" / "__init__.py").is_file()
    leftovers = {p.name for p in WEB.glob("*.py")} & {
        "views_cb.py",
        "views_sec.py",
        "forms_cb.py",
        "forms_sec.py",
        "urls_cb.py",
        "urls_org.py",
        "urls_sec.py",
    }
    assert leftovers == set()


def test_every_section_page_goes_through_the_section_decorator() -> None:
    undecorated = []
    for route, pattern in _patterns(get_resolver()):
        module = getattr(pattern.callback, "__module__", "")
        if not module.startswith("apcert.web.sections."):
            continue
        if getattr(pattern.callback, "login_required", True) is False:
            continue  # accepting an invitation, before there is a user
        if not hasattr(pattern.callback, "office_section"):
            undecorated.append(route)
    assert undecorated == []


def _views_modules() -> list[Path]:
    sections = WEB / "sections"
    return sorted([*sections.glob("*/views.py"), *sections.glob("*/views/*.py")])


def test_views_read_through_selectors_not_models() -> None:
    offenders = []
    for path in _views_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "objects":
                offenders.append(f"{path.relative_to(WEB)}:{node.lineno}")
    assert offenders == []


def test_one_current_user_helper_and_one_template_tag_module() -> None:
    definitions = []
    for path in WEB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in ("_user", "current_user"):
                definitions.append(f"{path.relative_to(WEB)}:{node.name}")
    assert definitions == ["section.py:current_user"]
    tags = sorted(p.name for p in (WEB / "templatetags").glob("*.py") if p.name != "__init__.py")
    assert tags == ["office.py"]
