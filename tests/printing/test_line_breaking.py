"""Line breaking in table cells (reports/fonts.wrap_lines), over any text: every character kept in order,
no line wider than its cell, and the Chinese rules on punctuation (GB/T 15834 and common typesetting
practice): closing punctuation never starts a line, opening punctuation never ends one."""

from hypothesis import given, settings
from hypothesis import strategies as st

from reports import fonts

OPENING, CLOSING = "（《「【“(", "，。、；：！？）》」】”)"
# Text as a record holds it: Chinese, Latin words, digits, spaces, both kinds of punctuation, rare names.
ALPHABET = st.sampled_from(list("客户反映卫生间渗水楼下天花板受潮") + list("abcXYZ019 ") + list(OPENING + CLOSING) + ["䶮", "𠮷"])
WIDTHS = st.sampled_from([24.0, 40.0, 61.5, 120.0])


@settings(max_examples=150, deadline=None)
@given(text=st.text(ALPHABET, min_size=1, max_size=80), width=WIDTHS)
def test_every_character_is_kept_and_no_line_is_wider_than_its_cell(text, width):
    lines = fonts.wrap_lines(text, width, 8)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        # A line is only wider than the cell when one character alone is (never at these widths).
        assert fonts.text_width(line, 8) <= width or len(line) == 1, line


@settings(max_examples=150, deadline=None)
@given(text=st.text(ALPHABET, min_size=1, max_size=80), width=st.sampled_from([61.5, 120.0]))
def test_opening_punctuation_never_ends_a_broken_line_and_closing_never_starts_one(text, width):
    # Cells of seven characters and more: in a cell three characters wide a run of brackets and commas
    # («(【花」») cannot keep both rules, and the line breaks where it must.
    lines = fonts.wrap_lines(text, width, 8)
    for first, second in zip(lines, lines[1:], strict=False):
        if len(first) > 1:  # a line of a single bracket has nowhere else to go
            assert first[-1] not in OPENING, (first, second)
        if len(first) > 1 and ord(first[-1]) >= 0x2E80 and first[-1] not in OPENING + CLOSING:
            assert second[:1] not in "，。、；：！？）》」】”", (first, second)


def test_a_bracket_at_the_end_of_a_full_line_goes_down_with_what_it_opens():
    width = fonts.text_width("客户反映卫生间（", 8)  # exactly room for the bracket at the end
    assert fonts.wrap_lines("客户反映卫生间（渗水）", width, 8) == ("客户反映卫生间", "（渗水）")
