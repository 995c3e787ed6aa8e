"""Queries: exactly the object's tokens are masked, for WordPiece and SentencePiece tokenizers.

Expected tokens are written out by hand (mBERT's greedy longest-match WordPiece over its vocab,
CJK ideographs split one per token; Unigram's best-scoring segmentation for the tiny vocab)."""

from pathlib import Path

import pytest

from compute.models import mbert_tokenizer
from compute.queries import REASONS, QueryError, build_query
from tiny_tokenizers import sentencepiece_tokenizer, wordpiece_tokenizer

MBERT_VOCAB = Path(__file__).parents[2] / "shared" / "data" / "tokenizers" / "bert-base-multilingual-cased" / "vocab.txt"
needs_mbert = pytest.mark.skipif(not MBERT_VOCAB.exists(), reason="../shared/data is absent")


def masked_tokens(tokenizer, query):
    return tokenizer.convert_ids_to_tokens(query.input_ids)


@pytest.fixture(scope="module")
def mbert():
    return mbert_tokenizer(MBERT_VOCAB)


@needs_mbert
def test_mbert_tokenizer_is_the_real_cased_vocab(mbert):
    assert len(mbert) == 119547
    assert mbert.is_fast
    assert mbert.mask_token == "[MASK]" and mbert.mask_token_id == 103
    # cased and accents kept: these are single vocabulary entries
    assert mbert.tokenize("Paris Montréal") == ["Paris", "Montréal"]


MBERT_CASES = [
    # template, subject, object, expected input tokens, expected gold tokens
    (
        "[X] was born in [Y] .", "Allan Peiper", "Alexandra",
        "[CLS] Allan Pe ##ipe ##r was born in [MASK] . [SEP]", ["Alexandra"],
    ),
    (
        "[X] was born in [Y] .", "Anthony Barber", "Doncaster",
        "[CLS] Anthony Barber was born in [MASK] [MASK] . [SEP]", ["Don", "##caster"],
    ),
    (   # several words; and the subject's own words are never masked
        "[X] died in [Y] .", "New York", "New York City",
        "[CLS] New York died in [MASK] [MASK] [MASK] . [SEP]", ["New", "York", "City"],
    ),
    (   # object glued to a full stop, and also a prefix of the subject
        "[X] was born in [Y].", "Paris Hilton", "Paris",
        "[CLS] Paris Hilton was born in [MASK] . [SEP]", ["Paris"],
    ),
    (   # glued to an apostrophe and a full stop
        "[X] est citoyenne d'[Y].", "Angela Merkel", "Allemagne",
        "[CLS] Angela Merkel est cit ##oy ##enne d ' [MASK] . [SEP]", ["Allemagne"],
    ),
    (   # Chinese, no spaces: one token per ideograph
        "[X]出生于[Y]。", "毛泽东", "湘潭",
        "[CLS] 毛 泽 东 出 生 于 [MASK] [MASK] 。 [SEP]", ["湘", "潭"],
    ),
    (   # Japanese, object first
        "[Y]が[X]に参加しました。", "東京", "安倍晋三",
        "[CLS] [MASK] [MASK] [MASK] [MASK] が 東 京 に 参 加 し ##ま ##した 。 [SEP]", ["安", "倍", "晋", "三"],
    ),
    (   # Korean particle glued to the object, split off as its own word piece
        "[X]는 [Y]에서 태어났습니다.", "김연아", "서울",
        "[CLS] 김 ##연 ##아 ##는 [MASK] ##에서 태 ##어 ##났 ##습 ##니다 . [SEP]", ["서울"],
    ),
]


@needs_mbert
@pytest.mark.parametrize("template, sub, obj, tokens, gold", MBERT_CASES)
def test_mbert_masks_exactly_the_object_tokens(mbert, template, sub, obj, tokens, gold):
    query = build_query(mbert, template, sub, obj, max_length=512)
    assert masked_tokens(mbert, query) == tokens.split()
    assert mbert.convert_ids_to_tokens(query.gold_ids) == gold
    assert query.mask_positions == [i for i, t in enumerate(tokens.split()) if t == "[MASK]"]
    assert query.text == template.replace("[X]", sub).replace("[Y]", "[MASK]" * len(gold))


@needs_mbert
def test_mbert_object_merged_with_a_particle_is_not_aligned(mbert):
    # "프랑스의" is one mBERT token: the object "프랑스" has no token boundary of its own
    with pytest.raises(QueryError) as err:
        build_query(mbert, "[X]는 [Y]의 법률 용어입니다.", "프랑스의 대통령", "프랑스", max_length=512)
    assert err.value.reason == "object_not_aligned"


SENTENCEPIECE_CASES = [
    # template, subject, object, expected input tokens, expected gold tokens
    ("[X] was born in [Y] .", "Allan", "Rome", "<s> ▁Allan ▁was ▁born ▁in <mask> ▁. </s>", ["▁Rome"]),
    (
        "[X] was born in [Y] .", "Allan", "Alexandra",
        "<s> ▁Allan ▁was ▁born ▁in <mask> <mask> <mask> ▁. </s>", ["▁Al", "ex", "andra"],
    ),
    # a lone "▁" before the object is a word boundary, not part of the object
    ("[X] was born in [Y] .", "Allan", "北京", "<s> ▁Allan ▁was ▁born ▁in ▁ <mask> ▁. </s>", ["北京"]),
    ("[X]出生于[Y]。", "北京", "上海", "<s> ▁ 北京 出生于 <mask> 。 </s>", ["上海"]),
    ("[Y]出生于[X]。", "北京", "上海", "<s> ▁ <mask> 出生于 北京 。 </s>", ["上海"]),
    # inside the object it belongs to it: "New York" is ▁New ▁ York
    (
        "[X] was born in [Y] .", "Allan", "New York",
        "<s> ▁Allan ▁was ▁born ▁in <mask> <mask> <mask> ▁. </s>", ["▁New", "▁", "York"],
    ),
]


@pytest.mark.parametrize("metaspace_only", [False, True])
@pytest.mark.parametrize("template, sub, obj, tokens, gold", SENTENCEPIECE_CASES)
def test_sentencepiece_masks_exactly_the_object_tokens(metaspace_only, template, sub, obj, tokens, gold):
    tokenizer = sentencepiece_tokenizer(metaspace_only)
    query = build_query(tokenizer, template, sub, obj, max_length=512)
    assert masked_tokens(tokenizer, query) == tokens.split()
    assert tokenizer.convert_ids_to_tokens(query.gold_ids) == gold
    assert tokenizer.decode(query.gold_ids) == obj


@pytest.mark.parametrize("metaspace_only", [False, True])
def test_sentencepiece_piece_across_the_object_boundary_is_not_aligned(metaspace_only):
    # "北京于上海。" segments as ▁ 北京 于上 海 。: "于上" holds template and object characters
    with pytest.raises(QueryError) as err:
        build_query(sentencepiece_tokenizer(metaspace_only), "[X]于[Y]。", "北京", "上海", max_length=512)
    assert err.value.reason == "object_not_aligned"


def test_labels_are_stripped_and_slots_need_no_spaces():
    tokenizer = wordpiece_tokenizer()
    query = build_query(tokenizer, "([X])[Y],", "  Allan ", "\tParis ", max_length=512)
    assert masked_tokens(tokenizer, query) == "[CLS] ( Allan ) [MASK] , [SEP]".split()
    assert query.text == "(Allan)[MASK],"


ERROR_CASES = [
    ("template_missing_x", "[Y] is the capital .", "Rome", "Italy", 512),
    ("template_missing_x", "[x] is the capital of [Y] .", "Rome", "Italy", 512),
    ("template_missing_x", None, "Rome", "Italy", 512),
    ("template_missing_y", "[X] is the capital of .", "Rome", "Italy", 512),
    ("empty_label", "[X] is the capital of [Y] .", "Rome", "  ", 512),
    ("empty_label", "[X] is the capital of [Y] .", "", "Italy", 512),
    ("empty_label", "[X] is the capital of [Y] .", None, "Italy", 512),
    # [CLS] Rome is the capital of Italy . [SEP] is 9 tokens
    ("too_long", "[X] is the capital of [Y] .", "Rome", "Italy", 8),
    ("object_not_aligned", "[X] was born in [Y]ville .", "Allan", "Paris", 512),
]


@pytest.mark.parametrize("reason, template, sub, obj, max_length", ERROR_CASES)
def test_query_errors_carry_their_reason(reason, template, sub, obj, max_length):
    with pytest.raises(QueryError) as err:
        build_query(wordpiece_tokenizer(), template, sub, obj, max_length)
    assert err.value.reason == reason
    assert reason in REASONS


def test_query_of_exactly_max_length_is_accepted():
    query = build_query(wordpiece_tokenizer(), "[X] is the capital of [Y] .", "Rome", "Italy", max_length=9)
    assert len(query.input_ids) == 9
