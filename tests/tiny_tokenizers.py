"""Small hand-written tokenizers for tests: a BERT WordPiece one and an XLM-R SentencePiece one."""

from tokenizers import pre_tokenizers
from transformers import BertTokenizer, XLMRobertaTokenizer

WORDPIECE_VOCAB = (
    "[PAD] [UNK] [CLS] [SEP] [MASK] . , ( ) Allan Pe ##ipe ##r was born in died Paris Rome Hilton "
    "New York City Don ##caster Parisville is the capital of France Italy 北 京 上 海 出 生 于 。"
).split()

# (piece, log-probability): Unigram picks the segmentation with the highest total score.
SENTENCEPIECE_VOCAB = [
    ("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("<mask>", 0.0),
    ("▁", -2.0), ("▁Allan", -3.0), ("▁was", -3.0), ("▁born", -3.0), ("▁in", -3.0), ("▁.", -3.0),
    (".", -3.0), ("▁Paris", -3.0), ("▁Rome", -3.0), ("▁Al", -4.0), ("ex", -4.0), ("andra", -4.0),
    ("北京", -3.0), ("上海", -3.0), ("出生于", -3.0), ("于上", -1.0), ("于", -3.0), ("海", -3.0), ("。", -3.0),
    ("▁New", -3.0), ("York", -3.0),
]


def wordpiece_tokenizer() -> BertTokenizer:
    """Cased WordPiece over WORDPIECE_VOCAB (ids in list order)."""
    vocab = {token: i for i, token in enumerate(WORDPIECE_VOCAB)}
    return BertTokenizer(vocab=vocab, do_lower_case=False, model_max_length=512)


def sentencepiece_tokenizer(metaspace_only: bool = False) -> XLMRobertaTokenizer:
    """XLM-R's tokenizer class over SENTENCEPIECE_VOCAB.

    The class splits on whitespace before adding "▁", so a lone "▁" reports the next word's first
    character as its span; `metaspace_only` uses the hub tokenizer.json's pre-tokenizer instead,
    where the space itself becomes "▁" and a lone "▁" spans the space."""
    tokenizer = XLMRobertaTokenizer(vocab=SENTENCEPIECE_VOCAB, model_max_length=512)
    if metaspace_only:
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    return tokenizer
