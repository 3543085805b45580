"""The one HTML builder: escaping is the default, raw HTML only comes from here."""

from __future__ import annotations

import pytest

from bfnb.display.html import Markup, details, el, escape, join, shorten, text_block

PAYLOAD = "<img src=x onerror=alert(1)>"


def test_children_and_attributes_are_escaped():
    out = el("td", PAYLOAD, title='"><script>x</script>', cls='a"b')
    assert out == (
        '<td class="a&quot;b" title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;">&lt;img src=x onerror=alert(1)&gt;</td>'
    )
    assert isinstance(out, Markup)
    # Markup from el() nests without double escaping
    assert el("tr", out).startswith("<tr><td")
    assert escape(out) is out
    assert join(["<a>", el("b", "x")]) == "&lt;a&gt;<b>x</b>"
    assert Markup("<b>") + "<i>" == "<b>&lt;i&gt;"


def test_event_handler_attributes_and_unknown_tags_are_refused():
    with pytest.raises(ValueError):
        el("td", "x", onclick="alert(1)")
    with pytest.raises(ValueError):
        el("script", "alert(1)")
    with pytest.raises(ValueError):
        el("td", "x", **{"bad name": 1})


def test_shorten_and_text_block():
    assert shorten("abcdef", 3) == ("abc…", True)
    assert shorten("abc", 3) == ("abc", False)
    assert text_block("short") == "short"
    block = text_block(PAYLOAD * 10, max_chars=10)
    assert block.startswith("<details><summary>") and "<img" not in block
    assert '<span class="bfnb-note"> [280 chars]</span>' in block
    assert details("s", "<f>") == (
        '<details><summary><span class="bfnb-prev">s</span></summary><div class="bfnb-full">&lt;f&gt;</div></details>'
    )
