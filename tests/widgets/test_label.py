"""LabelWidget: one item at a time, label buttons, free text, progress."""

from __future__ import annotations

import pytest

from bfnb.widgets import LabelWidget

PAYLOAD = "<img src=x onerror=alert(1)>"


def test_buttons_answer_items_in_order_and_report_progress():
    answers = []
    w = LabelWidget(["good", "bad"], on_answer=lambda k, v: answers.append((k, v)), title="rate <these>")
    for i in range(3):
        w.add(f"k{i}", f"text {i}\nsecond line" if i else PAYLOAD)
    box = w.widget
    title, progress, item, buttons, _error = box.children
    assert "rate &lt;these&gt;" in title.value
    assert progress.value == "0 of 3 labelled"
    assert "&lt;img src=x onerror=alert(1)&gt;" in item.value and "<img" not in item.value
    buttons.children[1].click()
    buttons.children[0].click()
    assert answers == [("k0", "bad"), ("k1", "good")]
    assert progress.value == "2 of 3 labelled" and "text 2\nsecond line" in item.value
    w.answer("good")
    assert progress.value == "3 of 3 labelled" and "nothing left" in item.value
    assert all(b.disabled for b in buttons.children)
    assert w.answer("good") is None
    assert repr(w) == "LabelWidget(labels=['good', 'bad'], 3 of 3 labelled)"
    assert w._repr_mimebundle_()["text/plain"] == repr(w)


def test_free_text_and_a_failing_callback():
    def on_answer(key, value):
        if key == "a":
            raise ValueError("cannot store")

    w = LabelWidget([], allow_text=True, on_answer=on_answer)
    w.add("a", "first")
    w.add("b", "second")
    text_box = w.widget.children[4].children[0]
    submit = w.widget.children[4].children[1]
    text_box.value = "  my answer  "
    submit.click()
    assert w.answers == {"a": "my answer"}
    assert "cannot store" in w.widget.children[-1].value
    text_box.value = "two"
    submit.click()
    assert w.answers == {"a": "my answer", "b": "two"} and w.error is None


def test_labels_are_checked():
    with pytest.raises(ValueError):
        LabelWidget([])
    w = LabelWidget(["yes"])
    w.add("k", "t")
    with pytest.raises(ValueError, match="not one of the labels"):
        w.answer("no")
