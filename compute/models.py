"""Load a Hugging Face masked or causal LM (hub id, local directory or in-memory model) with its identity.

The family ("masked" or "causal") comes from the model's config: the first of its architectures that
transformers lists as a masked-LM or causal-LM class, else its model type's class in those lists."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers.models.auto import modeling_auto as auto

from compute.ffn import ffn_width

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


# A tokenizer covers at least this share of the model's embeddings (some models pad their vocabulary)
MIN_VOCABULARY_SHARE = 0.9


FAMILIES = ("masked", "causal")
# What a transformers class is, by the first auto mapping listing it (BART's seq2seq class is also
# listed for masked LM); "masked" and "causal" are the families factroots probes
_KINDS = (
    ("a seq2seq model", auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES),
    ("masked", auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES),
    ("causal", auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES),
    ("a classifier", auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES),
    ("a classifier", auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES),
    ("a question-answering model", auto.MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES),
    ("a bare model without an LM head", auto.MODEL_MAPPING_NAMES),
)


class ModelLoadError(ValueError):
    """A model or tokenizer that cannot be loaded or cannot be probed."""


def _kind(class_name: str | None) -> str | None:
    """"masked", "causal", another kind from _KINDS, or None for a class transformers does not list."""
    for kind, mapping in _KINDS:
        for names in mapping.values():
            if class_name == names or (isinstance(names, tuple) and class_name in names):
                return kind
    return None


def model_family(architectures: list[str], model_type: str) -> str:
    """"masked" or "causal": the first architecture of a family, else the model type's class of a family.

    ModelLoadError, naming what it is instead, for a model that is neither."""
    for kind in map(_kind, architectures):
        if kind in FAMILIES:
            return kind
    for family, mapping in (("masked", auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES),
                            ("causal", auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)):
        if _kind(mapping.get(model_type)) == family:
            return family
    raise ModelLoadError(f"{_described(architectures, model_type)}, neither a masked nor a causal LM")


def _described(architectures: list[str], model_type: str) -> str:
    """What the config says the model is: its first architecture and that class's kind."""
    if not architectures:
        return f"model type {model_type!r} has no masked-LM or causal-LM class"
    return f"{architectures[0]} is {_kind(architectures[0]) or 'not a class transformers knows'}"


@dataclass
class LoadedModel:
    """A masked or causal LM ready for probing (eval mode, on `device`) and what identifies it.

    d_ff is the input width of its FFN output projections (compute.ffn), None when they cannot be found."""

    model: PreTrainedModel
    family: str  # "masked" or "causal"
    tokenizer: PreTrainedTokenizerBase
    name_or_path: str
    model_id: str
    revision: str | None
    weights_sha256: str
    device: str
    n_layers: int
    d_ff: int | None
    vocab_size: int
    max_length: int


def pick_device(device: str | None) -> str:
    """None or "auto": "cuda" when available, else "cpu"; any other name is checked."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r} (use auto, cpu, cuda, cuda:N or mps)") from exc
    if parsed.type == "cpu":
        return device
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return device
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError("device 'mps' requested but MPS is not available")
        return device
    raise ValueError(f"unsupported device {device!r} (use auto, cpu, cuda, cuda:N or mps)")


def weights_sha256(model: torch.nn.Module) -> str:
    """sha256 over the state dict in name order: name, dtype, shape and bytes of each tensor.

    Tied tensors (same storage, e.g. input embeddings and LM decoder) are hashed once."""
    digest = hashlib.sha256()
    seen = set()
    state = model.state_dict()
    for name in sorted(state):
        tensor = state[name]
        key = (tensor.data_ptr(), tensor.dtype, tuple(tensor.shape))
        if key in seen:
            continue
        seen.add(key)
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        data = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
        digest.update(data.numpy())
    return digest.hexdigest()


def _max_length(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """Longest query (special tokens included) that the model's position embeddings accept.

    max_position_embeddings (GPT-2's n_positions, RoPE models' longest trained context) or, for a
    model without position embeddings (BLOOM's ALiBi), its training length `seq_length` when the
    config gives it. RoBERTa-style embeddings (XLM-R) number positions from padding_idx + 1, so
    XLM-R's 514 position embeddings hold 512 tokens; the tokenizer's model_max_length caps it when set."""
    limits = []
    config = model.config.get_text_config()
    n_positions = getattr(config, "max_position_embeddings", None) or getattr(config, "seq_length", None)
    if n_positions:
        embeddings = getattr(model.base_model, "embeddings", None)
        positions = getattr(embeddings, "position_embeddings", None)
        padding_idx = getattr(positions, "padding_idx", None)
        limits.append(n_positions - (padding_idx + 1 if padding_idx is not None else 0))
    if 0 < tokenizer.model_max_length < 1_000_000:
        limits.append(tokenizer.model_max_length)
    if not limits:
        raise ModelLoadError("cannot tell the maximum query length: no max_position_embeddings, seq_length "
                             "or tokenizer model_max_length")
    return min(limits)


def wrap_model(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    name_or_path: str,
    device: str | None = None,
    revision: str | None = None,
) -> LoadedModel:
    """Describe an in-memory masked or causal LM (its family from its class, else its model type);
    `revision` is a hub commit hash when known.

    Its model_id is the last part of its name and its weights hash: the same weights named by a
    relative path, an absolute path or a hub id are one model."""
    config = model.config.get_text_config()
    try:
        family = model_family([type(model).__name__], config.model_type)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{name_or_path}: {exc}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"{name_or_path}: a fast tokenizer (offset mappings) is needed")
    if family == "masked" and tokenizer.mask_token_id is None:
        raise ModelLoadError(f"{name_or_path}: the tokenizer has no mask token")
    n_embeddings = model.get_input_embeddings().num_embeddings
    if not MIN_VOCABULARY_SHARE * n_embeddings <= len(tokenizer) <= n_embeddings:
        raise ModelLoadError(f"{name_or_path}: the tokenizer has {len(tokenizer):,} tokens but the model "
                             f"{n_embeddings:,} embeddings: not the model's tokenizer")
    device = pick_device(device)
    sha = weights_sha256(model)
    return LoadedModel(
        model=model.to(device).eval(),
        family=family,
        tokenizer=tokenizer,
        name_or_path=name_or_path,
        model_id=f"{Path(name_or_path.rstrip('/')).name or name_or_path}@{sha[:12]}",
        revision=revision,
        weights_sha256=sha,
        device=device,
        n_layers=config.num_hidden_layers,
        d_ff=ffn_width(model, config.num_hidden_layers),
        vocab_size=config.vocab_size,
        max_length=_max_length(model, tokenizer),
    )


def _hub_commit(name_or_path: str, revision: str | None) -> str | None:
    """The commit a hub id's revision points to; None for local directories or when unknown."""
    if Path(name_or_path).exists():
        return None
    from huggingface_hub import resolve_revision

    try:
        return resolve_revision(name_or_path, revision=revision).resolved
    except Exception:  # unreachable hub, unknown repo: from_pretrained reports it
        return None


def load_model(name_or_path: str, device: str | None = None, revision: str | None = None) -> LoadedModel:
    """Load a masked or causal LM and its tokenizer from the hub (pinned to one commit) or a local directory.

    Refused, in one line: a path that does not exist, a config or weights that cannot be read, a
    model that is neither a masked nor a causal LM (a seq2seq model, a classifier, a bare encoder),
    a checkpoint without its LM head (transformers would initialise one at random), a tokenizer
    that does not match the model's embeddings."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    what = f"cannot load language model {name_or_path!r}"
    if _looks_like_a_path(name_or_path) and not Path(name_or_path).exists():
        raise ModelLoadError(f"{what}: no such directory")
    commit = _hub_commit(name_or_path, revision)
    pinned = commit or revision
    try:
        config = AutoConfig.from_pretrained(name_or_path, revision=pinned)
        architectures = config.architectures or []
        family = model_family(architectures, config.model_type)
        auto_class = AutoModelForMaskedLM if family == "masked" else AutoModelForCausalLM
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=pinned)
        model, info = auto_class.from_pretrained(name_or_path, revision=pinned, dtype=torch.float32,
                                                 output_loading_info=True)
    except Exception as exc:  # transformers, safetensors and the hub raise many kinds for one cause
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"{what}: {first_line}") from exc
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise ModelLoadError(f"{what}: {len(missing)} weight(s) not in the checkpoint would be initialised at "
                             f"random (first: {missing[0]}): is it a {family} LM with its head?")
    kinds = {_kind(name) for name in architectures}
    if kinds and None not in kinds and not kinds & set(FAMILIES):  # e.g. a GPT-2 classifier: its head is tied
        raise ModelLoadError(f"{what}: {_described(architectures, config.model_type)}, not a {family} LM")
    try:
        return wrap_model(model, tokenizer, name_or_path, device, revision=commit)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{what}: {str(exc).removeprefix(f'{name_or_path}: ')}") from exc


def _looks_like_a_path(name: str) -> bool:
    """A hub id is `name` or `owner/name`; anything else (absolute, ./, ~, deeper) is a local path."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def mbert_tokenizer(vocab_path: str | Path) -> PreTrainedTokenizerBase:
    """The mBERT cased WordPiece tokenizer (fast) built offline from its vocab.txt."""
    from transformers import BertTokenizer

    vocab_path = Path(vocab_path)
    with vocab_path.open(encoding="utf-8") as f:
        n_entries = sum(1 for _ in f)
    tokenizer = BertTokenizer(vocab=str(vocab_path), do_lower_case=False, model_max_length=512)
    if len(tokenizer) != n_entries:
        raise ModelLoadError(f"{vocab_path}: tokenizer has {len(tokenizer)} tokens, vocab file {n_entries}")
    return tokenizer


def model_row(loaded: LoadedModel) -> dict:
    """The row describing a probed model (the `models` table)."""
    return {
        "model_id": loaded.model_id,
        "name_or_path": loaded.name_or_path,
        "revision": loaded.revision,
        "weights_sha256": loaded.weights_sha256,
        "family": loaded.family,
        "model_class": type(loaded.model).__name__,
        "tokenizer_class": type(loaded.tokenizer).__name__,
        "n_layers": loaded.n_layers,
        "d_ff": loaded.d_ff,
        "vocab_size": loaded.vocab_size,
        "max_length": loaded.max_length,
    }
