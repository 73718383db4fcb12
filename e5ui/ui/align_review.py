"""The Align tab's review: the links side by side (doubtful first, the order the measurement in
benchmarks/RESULTS.md chose), coloured by confidence, and the edits that keep the alignment
valid (accept, break, re-link, merge with the next, split a merge).

The session's ``gr.State`` holds the current ``views.AlignResult``; an edit makes a new one
(``AlignResult.edited``) and everything drawn from it — path, counts, gold F1, table,
downloads, this reading view — follows. A refused edit raises ValueError, which ``common.guard``
shows as one message, and the state keeps the alignment it had.
"""

from __future__ import annotations

import html
import math

import gradio as gr

from e5ui import views
from e5ui.analysis import calibration
from e5ui.ui import common

SORTS = [("Doubtful first", "doubt"), ("Document order", "document")]
ACTIONS = [("Accept", "accept"), ("Break", "break"), ("Re-link", "relink"),
           ("Merge with next", "merge"), ("Split a merge", "split")]
NEAR_THRESHOLD = 0.1  # a link this close above the flag threshold is shown as uncertain
CANDIDATES = 6
LEGEND = ('<div class="al-review-legend"><span class="al-key al-r-low">below the threshold</span>'
          '<span class="al-key al-r-unsure">just above it</span>'
          '<span class="al-key al-r-omit">no partner</span>'
          '<span class="al-key al-r-high">confident</span>'
          '<span class="al-key al-key-edited">edited</span> · hover a row for its score</div>')


def _band(link, threshold: float | None) -> tuple[str, str]:
    """The row's confidence class and the words its hover gives."""
    if link.is_omission:
        return "omit", "no partner: a sentence the aligner left alone (check for a missed link)"
    if math.isnan(link.score):
        return "unsure", "a merge scored without its joined vector (no encoder at hand)"
    if link.low_confidence:
        return "low", (f"below the flag threshold {threshold:g}: likely wrong, or a loose "
                       "translation")
    if threshold is not None and link.score < threshold + NEAR_THRESHOLD:
        return "unsure", f"just above the flag threshold {threshold:g}: worth a look"
    return "high", "well above the threshold: the model is confident of this link"


def _side(doc, group: tuple[int, ...]) -> str:
    if not group:
        return '<td class="al-r-empty">—</td>'
    idx = ",".join(str(i) for i in group)
    text = "<br>".join(html.escape(doc.sentences[i]) for i in group)
    return f'<td dir="auto"><span class="al-r-idx">{idx}</span> {text}</td>'


def reading_html(result: views.AlignResult | None, sort: str = "doubt") -> str:
    """The alignment as two columns, one row per link (a merge's sentences in one cell, an
    omission's other side empty), in ``sort`` order ("doubt": most doubtful first;
    "document"), each row coloured by its confidence with the score's meaning on hover."""
    if result is None:
        return '<div class="al-review-empty">Align two documents to review their links.</div>'
    links = result.alignment.links
    ranks = result.doubt_ranks.tolist()
    order = result.doubt_order if sort == "doubt" else range(len(links))
    threshold = result.alignment.threshold
    rows = []
    for k in order:
        link = links[k]
        band, meaning = _band(link, threshold)
        score = "" if math.isnan(link.score) else f"{link.score:.3f}"
        cosine = "" if math.isnan(link.cosine) else f" · cosine {link.cosine:.3f}"
        if cosine and result.baseline is not None:
            share = float(calibration.percentile(link.cosine, result.baseline))
            cosine += (f", higher than {views.fmt_pct(share)} of the model's unrelated "
                       "sentence pairs")
        hover = html.escape(f"link {k} · {link.type} · score {score or '–'}{cosine} · "
                            f"{meaning} · doubt rank {ranks[k]}", quote=True)
        rows.append(
            f'<tr class="al-r-{band} al-s-{link.status}" data-link="{k}" title="{hover}">'
            f'<td class="al-r-num">{k}</td><td class="al-r-num">{ranks[k]}</td>'
            f'<td><span class="al-badge al-badge-{link.status}">{link.status}</span></td>'
            f'<td class="al-r-num">{score or "–"}</td><td>{link.type}</td>'
            f"{_side(result.source, link.src)}{_side(result.target, link.tgt)}</tr>")
    head = ("<tr><th>link</th><th>doubt</th><th>status</th><th>score</th><th>type</th>"
            f"<th>source ({html.escape(result.source.lang)})</th>"
            f"<th>target ({html.escape(result.target.lang)})</th></tr>")
    return (f"{LEGEND}<div class=\"al-review-scroll\"><table class=\"al-review\">"
            f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>")


def edit_line(action: str, link: float | None, src: str | None, tgt: str | None,
              release: bool = False) -> str:
    """The form controls as one ``views.parse_edits`` line (ValueError when one is missing)."""
    if action == "relink":
        if not (src or "").strip() or not (tgt or "").strip():
            raise ValueError("Re-link needs the source sentence(s) and the target sentence(s), "
                             "e.g. 3 and 4,5")
        return f"relink {src.strip()} {tgt.strip()}{' release' if release else ''}"
    if link is None:
        raise ValueError("Give the link's number (the table's link column)")
    if float(link) != int(link) or link < 0:
        raise ValueError(f"A link's number is a whole number from 0, got {link:g}")
    return f"{action} {int(link)}"


@common.guard
def candidates(app: common.App, saved: views.AlignResult | None, src: str | None):
    """The target sentences (and runs of them) nearest the source sentence typed, to pick."""
    if saved is None:
        raise ValueError("Align two documents first, then review the links")
    text = (src or "").strip()
    if not text or "," in text:
        raise ValueError("Type one source sentence (its 0-based number) to see candidates")
    from e5ui.analysis.alignment import parse_group

    (i,) = parse_group(text)
    found = saved.candidates(i, CANDIDATES, app.encoder(lambda *a, **k: None))
    tgt = saved.target.sentences
    choices = []
    for c in found:
        words = " ".join(tgt[j] for j in c.tgt)
        words = words if len(words) <= 70 else words[:69] + "…"
        mark = " (linked now)" if c.linked else ""
        label = f"{','.join(map(str, c.tgt))} · cosine {c.cosine:.3f}{mark} · {words}"
        choices.append((label, ",".join(map(str, c.tgt))))
    return gr.update(choices=choices, value=None,
                     label=f"Candidates for source sentence {i}: pick one")


def build(app: common.App, saved: gr.State) -> dict:
    """Lays out the review (inside the Align tab, under the figure) and wires what stays
    inside it; returns its components by name for the tab to wire the edits."""
    parts: dict = {}
    with gr.Accordion("Review the links: side by side, doubtful first, with edits",
                      open=False, elem_id="al-review"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=480):
                sort = gr.Radio(SORTS, value="doubt", show_label=False, elem_id="al-sort",
                                container=False)
                reading = gr.HTML(reading_html(None), elem_id="al-reading")
            with gr.Column(scale=2, min_width=300, elem_id="al-edit"):
                action = gr.Radio(ACTIONS, value="relink", label="Edit", elem_id="al-action")
                link = gr.Number(None, label="Link (its number in the link column)",
                                 precision=0, minimum=0, elem_id="al-link")
                with gr.Row():
                    src = gr.Textbox("", label="Source sentence(s)", placeholder="3 or 3,4",
                                     max_lines=1, elem_id="al-src", min_width=100)
                    tgt = gr.Textbox("", label="Target sentence(s)", placeholder="5 or 5,6",
                                     max_lines=1, elem_id="al-tgt", min_width=100)
                pick = gr.Dropdown([], value=None, allow_custom_value=True,
                                   label="Candidates (type a source sentence, press Enter)",
                                   elem_id="al-candidates")
                release = gr.Checkbox(False, label="Re-link: break the links that hold "
                                      "these sentences", elem_id="al-release")
                apply = gr.Button("Apply", variant="primary", elem_id="al-apply")
                message = gr.Markdown(elem_id="al-edit-message")
                approved = gr.Checkbox(False, label="TMX: only accepted and edited links",
                                       elem_id="al-approved")
                resume = gr.File(label="Resume a review (.tsv/.csv)",
                                 file_types=[".tsv", ".csv"], height=90,
                                 elem_id="al-resume")
                # /align_review's edit list ("accept 3; relink 5 6,7"); the form makes one.
                edits = gr.Textbox("", visible=False, label="Edits")
    sort.change(reading_html, [saved, sort], [reading], **common.PRIVATE)
    saved.change(reading_html, [saved, sort], [reading], **common.PRIVATE)
    src.submit(common.bind(candidates, app), [saved, src], [pick], **common.PRIVATE)
    pick.input(lambda v: v or "", [pick], [tgt], **common.PRIVATE)
    parts.update(sort=sort, reading=reading, action=action, link=link, src=src, tgt=tgt,
                 release=release, apply=apply, edits=edits, message=message, approved=approved,
                 resume=resume)
    return parts
