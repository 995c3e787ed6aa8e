"""Template + labels -> model input and the k positions whose outputs predict the object's k tokens.

The sentence is filled with the gold object and tokenized with offsets (the tokenizer's own special
tokens included); the object's tokens are those whose character span overlaps the object's span,
less the tokens at either end that carry no text of their own (a lone SentencePiece "▁" word
marker, whose reported span is the space before the word or the word's first character depending
on the pre-tokenizer). Their ids are the gold ids.

Masked LM (`build_query`): the object's tokens are replaced by the mask id; the masks predict them.
Causal LM (`build_causal_query`): the sentence is the prompt (the template with [X] filled, cut just
before [Y]) followed by the object, tokenized together, so that a word-initial space belongs to the
object's first token as in training. The input is the tokens before the object's last token
(teacher forcing: nothing after it is needed), and object token i is predicted at the position
just before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SLOT = re.compile(r"(\[[XY]\])")

REASONS = ("template_missing_x", "template_missing_y", "empty_label", "too_long", "object_not_aligned",
           "object_before_subject")


class QueryError(ValueError):
    """A fact that cannot be turned into a query; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class Query:
    input_ids: list[int]
    mask_positions: list[int]  # where the output predicts gold_ids[i]: the masks, or the position before object token i
    gold_ids: list[int]
    text: str  # for humans: the filled sentence with the mask token(s) in place of the object, or the prompt


def _fill(template: str, sub_label: str, obj_label: str) -> tuple[str, list[tuple[int, int]]]:
    """The filled sentence and the character span of each [Y]."""
    pieces, spans, end = [], [], 0
    for part in _SLOT.split(template):
        if part == "[Y]":
            spans.append((end, end + len(obj_label)))
            part = obj_label
        elif part == "[X]":
            part = sub_label
        pieces.append(part)
        end += len(part)
    return "".join(pieces), spans


def _object_positions(tokenizer, encoding, text: str, span: tuple[int, int]) -> list[int]:
    """Positions of the tokens that spell the object at `span`; QueryError if they spill over."""
    start, end = span
    ids, offsets, special = encoding["input_ids"], encoding["offset_mapping"], encoding["special_tokens_mask"]
    positions = [i for i, (a, b) in enumerate(offsets) if not special[i] and a < end and b > start]
    while positions and not tokenizer.decode([ids[positions[0]]]).strip():
        positions.pop(0)
    while positions and not tokenizer.decode([ids[positions[-1]]]).strip():
        positions.pop()
    if not positions:
        raise QueryError("object_not_aligned", f"no token spells {text[start:end]!r}")
    first, last = offsets[positions[0]][0], offsets[positions[-1]][1]
    if text[first:start].strip() or text[end:last].strip():
        raise QueryError("object_not_aligned", f"{text[first:last]!r} spans more than {text[start:end]!r}")
    return positions


def _checked(template: str, sub_label: str, obj_label: str) -> tuple[str, str, str]:
    """The template and the stripped labels; QueryError when a slot or a label is missing."""
    template = template or ""
    if "[X]" not in template:
        raise QueryError("template_missing_x", template)
    if "[Y]" not in template:
        raise QueryError("template_missing_y", template)
    sub_label, obj_label = (sub_label or "").strip(), (obj_label or "").strip()
    if not sub_label or not obj_label:
        raise QueryError("empty_label")
    return template, sub_label, obj_label


def _encode(tokenizer, text: str):
    return tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)


def build_query(tokenizer, template: str, sub_label: str, obj_label: str, max_length: int) -> Query:
    """The masked-LM query for one fact: labels are stripped; every [Y] is masked, every [X] filled."""
    template, sub_label, obj_label = _checked(template, sub_label, obj_label)
    text, spans = _fill(template, sub_label, obj_label)
    encoding = _encode(tokenizer, text)
    if len(encoding["input_ids"]) > max_length:
        raise QueryError("too_long", f"{len(encoding['input_ids'])} > {max_length} tokens")
    per_span = [_object_positions(tokenizer, encoding, text, span) for span in spans]
    input_ids = list(encoding["input_ids"])
    mask_positions = [p for positions in per_span for p in positions]
    gold_ids = [input_ids[p] for p in mask_positions]
    for p in mask_positions:
        input_ids[p] = tokenizer.mask_token_id
    masked_text = text
    for (start, end), positions in reversed(list(zip(spans, per_span))):
        masked_text = masked_text[:start] + tokenizer.mask_token * len(positions) + masked_text[end:]
    return Query(input_ids, mask_positions, gold_ids, masked_text)


def build_causal_query(tokenizer, template: str, sub_label: str, obj_label: str, max_length: int) -> Query:
    """The causal-LM query for one fact: labels are stripped; the prompt is the template up to its
    first [Y] with every [X] filled, and must hold the subject (else object_before_subject)."""
    template, sub_label, obj_label = _checked(template, sub_label, obj_label)
    cut = template[: template.index("[Y]")]
    if "[X]" not in cut:
        raise QueryError("object_before_subject", template)
    prompt = cut.replace("[X]", sub_label)
    text = prompt + obj_label
    encoding = _encode(tokenizer, text)
    positions = _object_positions(tokenizer, encoding, text, (len(prompt), len(text)))
    input_ids = encoding["input_ids"][: positions[-1]]
    if len(input_ids) > max_length:
        raise QueryError("too_long", f"{len(input_ids)} > {max_length} tokens")
    gold_ids = [encoding["input_ids"][p] for p in positions]
    return Query(input_ids, [p - 1 for p in positions], gold_ids, prompt)
