"""Publication keys and text sanitising."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.domain import clean_text, normalise_key, strip_markup

SLUG = "counter-terrorism-joint-inspection"
EXPECTED = f"hmicfrs:/publications/{SLUG}"


@pytest.mark.parametrize(
    "link",
    [
        f"https://hmicfrs.justiceinspectorates.gov.uk/publications/{SLUG}/",
        f"https://hmicfrs.justiceinspectorates.gov.uk/publications/{SLUG}",
        f"http://hmicfrs.justiceinspectorates.gov.uk/publications/{SLUG}/",
        f"https://HMICFRS.JusticeInspectorates.gov.uk/publications/{SLUG}/",
        f"https://hmicfrs.justiceinspectorates.gov.uk:443/publications/{SLUG}/",
        f"https://hmicfrs.justiceinspectorates.gov.uk//publications//{SLUG}//",
        f"http://www.justiceinspectorates.gov.uk/hmicfrs/publications/{SLUG}",
        f"https://www.justiceinspectorates.gov.uk/hmicfrs/publications/{SLUG}/",
        f"https://justiceinspectorates.gov.uk/hmicfrs/publications/{SLUG}/",
        f"https://hmicfrs.justiceinspectorates.gov.uk/publications/{SLUG}/#recommendations",
        f"https://hmicfrs.justiceinspectorates.gov.uk/publications/{SLUG}/"
        "?utm_source=twitter&utm_medium=social&fbclid=abc&gclid=1&mc_cid=2&mc_eid=3&_ga=4",
        f"  https://hmicfrs.justiceinspectorates.gov.uk/publications/{SLUG}/\n",
    ],
)
def test_the_same_report_has_one_key(link: str) -> None:
    assert normalise_key(link) == EXPECTED


def test_old_host_outside_hmicfrs_is_not_hmicfrs() -> None:
    key = normalise_key("https://www.justiceinspectorates.gov.uk/hmiprobation/inspections/x/")
    assert key == "justiceinspectorates.gov.uk/hmiprobation/inspections/x"


def test_other_hosts_keep_meaningful_query_sorted() -> None:
    key = normalise_key("HTTPS://Www.Example.ORG/Reports/A/?z=1&a=2&utm_campaign=x#top")
    assert key == "example.org/Reports/A?a=2&z=1"


def test_non_default_port_is_kept() -> None:
    assert (
        normalise_key("https://127.0.0.1:8443/publications/x/") == "127.0.0.1:8443/publications/x"
    )


def test_link_is_preferred_over_guid() -> None:
    key = normalise_key(
        f"https://hmicfrs.justiceinspectorates.gov.uk/publications/{SLUG}/",
        "https://hmicfrs.justiceinspectorates.gov.uk/?p=123",
    )
    assert key == EXPECTED


def test_wordpress_guid_fallback_keeps_p() -> None:
    key = normalise_key("", "https://hmicfrs.justiceinspectorates.gov.uk/?p=123&utm_source=x")
    assert key == "hmicfrs:/?p=123"


def test_non_url_guid_fallback() -> None:
    assert normalise_key("", "urn:uuid:1234-abcd") == "guid:urn:uuid:1234-abcd"
    assert (
        normalise_key("", "tag:example.org,2023:post 42") == "guid:tag:example.org,2023:post%2042"
    )


def test_missing_link_and_guid_is_an_error() -> None:
    with pytest.raises(ValueError, match="link or a guid"):
        normalise_key("  ", "")


def test_long_links_fit_255_and_stay_distinct() -> None:
    base = "https://hmicfrs.justiceinspectorates.gov.uk/publications/" + "a" * 400
    one, two = normalise_key(base + "-one"), normalise_key(base + "-two")
    assert len(one) <= 255
    assert len(two) <= 255
    assert one != two
    assert one.startswith("hmicfrs:/publications/aaaa")


def test_control_characters_never_reach_the_key() -> None:
    key = normalise_key("https://example.org/a\x00b\u202ec d\x7f/")
    assert key == "example.org/abc%20d"


@given(st.text(max_size=600), st.text(max_size=600))
def test_keys_are_short_and_printable_for_any_input(link: str, guid: str) -> None:
    if not (link.strip() or guid.strip()):
        return
    try:
        key = normalise_key(link, guid)
    except ValueError:
        # Only when nothing usable is left after removing control characters.
        return
    assert 0 < len(key) <= 255
    assert all(unicodedata.category(ch)[0] != "C" for ch in key)
    assert not any(ch.isspace() for ch in key)


def test_clean_text_strips_unsafe_characters_and_collapses_space() -> None:
    dirty = "  Police\x00 and \x1bcrime\u202e  plan \u2066x\u2069\r\n\tend\x85 "
    assert clean_text(dirty, 100) == "Police and crime plan x end"


def test_clean_text_truncates_with_an_ellipsis() -> None:
    assert clean_text("abcdefghij", 5) == "abcd…"
    assert clean_text("abcdefghij", 10) == "abcdefghij"
    assert len(clean_text("word " * 1000, 1000)) == 1000


def test_clean_text_needs_room() -> None:
    with pytest.raises(ValueError, match="max_len"):
        clean_text("x", 0)


def test_strip_markup_drops_tags_and_scripts_and_decodes_entities() -> None:
    html = "<p>Fish &amp; chips<script>alert('x')</script></p><p>two&nbsp;<b>bold</b></p>"
    assert clean_text(strip_markup(html), 100) == "Fish & chips two bold"
