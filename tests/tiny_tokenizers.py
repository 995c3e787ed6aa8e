"""Small tokenizers for tests: hand-written BERT WordPiece and XLM-R SentencePiece ones, and two
BPE ones trained here for the causal LMs (byte-level GPT-2 style; SentencePiece style with a BOS)."""

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import BertTokenizer, PreTrainedTokenizerFast, XLMRobertaTokenizer

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


# Text the small BPE tokenizers below are trained on (offline, deterministic): every word the tests
# use is frequent enough to become one token, except "Doncaster" and "Peiper", which stay in pieces.
BPE_TRAINING_TEXT = [
    "Allan was born in Paris .", "Allan died in Rome .", "The capital of France is Paris .",
    "The capital of Italy is Rome .", "Rome is a city in Italy .", "New York City is a city .",
    "Paris is a city in France .", "Allan was born in Parisville .", "Parisville is a city .",
    "北京 上海 出生于 。", "Don cast er", "Pe ip er",
] * 20


def byte_level_bpe_tokenizer() -> PreTrainedTokenizerFast:
    """A GPT-2-style byte-level BPE (a word's leading space belongs to its first token), no special
    tokens added to a text; "<|endoftext|>" ends texts and pads."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(BPE_TRAINING_TEXT, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", model_max_length=512)


def sentencepiece_bpe_tokenizer() -> PreTrainedTokenizerFast:
    """A LLaMA-style SentencePiece BPE ("▁" marks a word's start; the first word gets one too) that
    adds its BOS "<s>" in front of every text."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>", "<pad>"])
    tokenizer.train_from_iterator(BPE_TRAINING_TEXT, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>", model_max_length=512)
