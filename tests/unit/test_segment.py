"""Sentence splitting of documents for alignment: languages, paragraphs, line mode, bad input.
The sentences below were written for these tests."""

from __future__ import annotations

import pytest

from e5ui import segment


def sentences(text: str, lang: str) -> list[str]:
    return segment.split_document(text, lang=lang).sentences


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "Dr. Brown opened the shop at 9 a.m. today. Was it busy? Not at all!",
     ["Dr. Brown opened the shop at 9 a.m. today.", "Was it busy?", "Not at all!"]),
    ("de", "Der Zug kam z. B. um 8 Uhr an. Am 3. Mai regnete es. Warum? Niemand weiß es.",
     ["Der Zug kam z. B. um 8 Uhr an.", "Am 3. Mai regnete es.", "Warum?", "Niemand weiß es."]),
    ("fr", "M. Martin arrive demain. Vraiment ? Oui, à midi !",
     ["M. Martin arrive demain.", "Vraiment ?", "Oui, à midi !"]),
    ("zh", "今天下雨了。我们去图书馆吧！你带伞了吗？带了。",
     ["今天下雨了。", "我们去图书馆吧！", "你带伞了吗？", "带了。"]),
    ("ja", "駅は近いです。彼は「すぐ行く。」と言った。本当ですか？はい！",
     ["駅は近いです。", "彼は「すぐ行く。」と言った。", "本当ですか？", "はい！"]),
    ("th", "ฝนตกหนักเมื่อคืนนี้ ถนนหน้าบ้านมีน้ำท่วม เราจึงไปทำงานสาย",
     ["ฝนตกหนักเมื่อคืนนี้", "ถนนหน้าบ้านมีน้ำท่วม", "เราจึงไปทำงานสาย"]),
    ("ar", "وصل القطار متأخرا. هل كان مزدحما؟ نعم، جدا!",
     ["وصل القطار متأخرا.", "هل كان مزدحما؟", "نعم، جدا!"]),
    ("hi", "आज बाज़ार बंद है। क्या कल खुलेगा? हाँ, सुबह से!",
     ["आज बाज़ार बंद है।", "क्या कल खुलेगा?", "हाँ, सुबह से!"]),
])
def test_sentences_in_eight_languages(lang, text, expected):
    assert sentences(text, lang) == expected


def test_thai_keeps_spaces_around_numbers_and_latin_words():
    text = "ราคา 35 บาท ฉันซื้อ iPhone เมื่อวาน มันดีมาก"
    assert sentences(text, "th") == ["ราคา 35 บาท", "ฉันซื้อ iPhone เมื่อวาน", "มันดีมาก"]


def test_paragraphs_lines_and_soft_line_breaks():
    text = ("The meeting starts at ten.\n"
            "Bring the report, please.\n"
            "\n"
            "\n"
            "Lunch is served at noon. The\n"
            "  afternoon is free.\n"
            "\n"
            "会議は十時に始まり\n"
            "ます。昼食は正午です。\n")
    doc = segment.split_document(text, lang="en")
    assert doc.sentences == ["The meeting starts at ten.", "Bring the report, please.",
                             "Lunch is served at noon.", "The afternoon is free.",
                             "会議は十時に始まります。", "昼食は正午です。"]
    assert doc.paragraphs == [0, 0, 1, 1, 2, 2]
    assert doc.lines == [0, 1, 4, 4, 7, 8]
    assert doc.n_paragraphs == 3
    assert doc.where(3) == "line 5"


def test_line_mode_keeps_lines_and_notes_blank_ones():
    text = "First line. Still the first.\n\n  Second   line  \nThird line\n"
    doc = segment.split_document(text, lang="en", mode="lines")
    assert doc.sentences == ["First line. Still the first.", "Second line", "Third line"]
    assert doc.lines == [0, 2, 3]
    assert doc.paragraphs == [0, 1, 1]
    assert any("skipped 1 blank line" in note for note in doc.notes)


def test_language_is_detected_unless_given():
    doc = segment.split_document("Das Wetter ist heute schön. Wir gehen spazieren.")
    assert doc.lang == "de" and doc.lang_detected
    given = segment.split_document("Das Wetter ist heute schön.", lang="de-CH")
    assert given.lang == "de" and not given.lang_detected
    assert any("language de (detected)" in note for note in doc.notes)


def test_a_byte_order_mark_is_dropped():
    assert sentences("\ufeffHello there. Bye.", "en") == ["Hello there.", "Bye."]


def test_markdown_file_is_read(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text("# Title\nOne sentence. Another one.\n\n## Part two\n- An item\n- Another\n",
                    encoding="utf-8")
    doc = segment.read_document(path, lang="en")
    assert doc.sentences == ["# Title", "One sentence.", "Another one.", "## Part two",
                             "- An item", "- Another"]
    assert doc.source == "doc.md" and doc.paragraphs == [0, 1, 1, 2, 3, 3]


def test_split_pair_returns_both_sides():
    src, tgt = segment.split_pair("One. Two.", "Eins. Zwei.", source_lang="en",
                                  target_lang="de")
    assert (src.sentences, tgt.sentences) == (["One.", "Two."], ["Eins.", "Zwei."])


# -- bad input ------------------------------------------------------------------------------------
def test_empty_side():
    with pytest.raises(ValueError, match="target is empty"):
        segment.split_pair("A sentence.", "", source_lang="en")


def test_whitespace_only_side():
    with pytest.raises(ValueError, match="source is empty: it holds no text, only whitespace"):
        segment.split_pair(" \n\t\n ", "Ein Satz.", target_lang="de")


def test_binary_text():
    with pytest.raises(ValueError, match="looks like a binary file"):
        segment.split_document("PK\x03\x04\x00\x00binary", lang="en")


def test_binary_file(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ValueError, match="image.txt looks like a binary file"):
        segment.read_document(path)


def test_file_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Zwei Sätze.\nNoch einer.".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8 text"):
        segment.read_document(path)


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(ValueError, match="Must be one of: .txt, .md"):
        segment.read_document(path)


def test_one_side_a_hundred_times_longer():
    long = " ".join(["This sentence is repeated to make a long document."] * 60)
    with pytest.raises(ValueError, match="times longer than"):
        segment.split_pair(long, "Kurz.", source_lang="en", target_lang="de")


def test_unknown_mode():
    with pytest.raises(ValueError, match="Must be one of: split, lines"):
        segment.split_document("Text.", mode="words")


def test_not_text():
    with pytest.raises(ValueError, match="expected text"):
        segment.split_document(b"bytes")


def test_only_line_feeds_end_lines():
    # A form feed or U+2028 inside a line does not make a new line (line numbers stay exact).
    text = "One.\fStill one.\nTwo\u2028still two.\nThree.\n"
    doc = segment.split_document(text, lang="en", mode="lines")
    assert len(doc.sentences) == 3 and doc.lines == [0, 1, 2]
