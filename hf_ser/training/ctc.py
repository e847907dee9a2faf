"""Multitask emotion + CTC character recognition (Cai et al., 2021): loss = emotion loss + alpha * CTC.

When a corpus has transcripts (a ``text`` column), an auxiliary CTC head on the backbone's last hidden
state learns to spell the utterance; the shared backbone gets a linguistic training signal and the
model transcribes as a by-product. The character vocabulary is built from the *training* transcripts
and saved next to the checkpoint (``ctc_vocab.json``); the head's weights are saved in the model's
safetensors file under ``ctc_head.*``.

The head is attached to an existing :class:`~hf_ser.SERModelForAudioClassification` with forward hooks
(:func:`attach_ctc_head`), so it runs inside the model's own forward (as data parallelism requires) and
the model needs no CTC-specific code: pass ``ctc_labels`` (padded with -100) to the model and the CTC
term is added to ``loss``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import torch
from torch import nn

VOCAB_FILE = "ctc_vocab.json"
BLANK = "<blank>"
UNKNOWN = "<unk>"
WORD_DELIMITER = "|"


@dataclass
class CharVocab:
    """Character vocabulary for CTC: index 0 is the blank, 1 the unknown character; spaces become ``|``.

    Example:

    ```python
    >>> vocab = CharVocab.from_texts(["ja genau", "nein"])
    >>> vocab.decode(vocab.encode("nein ja"))
    'nein ja'
    ```
    """

    tokens: list[str]

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharVocab:
        """Build the vocabulary from transcripts (lower-cased), sorted for reproducibility."""
        chars = sorted({WORD_DELIMITER if c == " " else c for text in texts for c in normalize_text(text)})
        if not chars:
            raise ValueError("Cannot build a CTC vocabulary: the training transcripts are all empty.")
        return cls([BLANK, UNKNOWN, *chars])

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def blank_id(self) -> int:
        return 0

    def encode(self, text: str) -> list[int]:
        """Characters of ``text`` to ids (unknown characters map to ``<unk>``)."""
        index = {token: i for i, token in enumerate(self.tokens)}
        return [index.get(WORD_DELIMITER if c == " " else c, 1) for c in normalize_text(text)]

    def decode(self, ids: Sequence[int], collapse: bool = False) -> str:
        """Ids to text; ``collapse=True`` applies CTC decoding (merge repeats, drop blanks)."""
        out, previous = [], None
        for i in ids:
            i = int(i)
            if collapse and (i == previous or i == self.blank_id):
                previous = i
                continue
            previous = i
            if 0 < i < len(self.tokens) and self.tokens[i] != UNKNOWN:
                out.append(" " if self.tokens[i] == WORD_DELIMITER else self.tokens[i])
        return "".join(out)

    def save(self, directory: Union[str, Path]) -> Path:
        path = Path(directory) / VOCAB_FILE
        path.write_text(json.dumps({"tokens": self.tokens}, ensure_ascii=False, indent=1))
        return path

    @classmethod
    def load(cls, directory: Union[str, Path]) -> CharVocab:
        path = Path(directory) / VOCAB_FILE
        if not path.is_file():
            raise FileNotFoundError(f"No CTC vocabulary {VOCAB_FILE} in {str(directory)!r}.")
        return cls(list(json.loads(path.read_text())["tokens"]))


def normalize_text(text: str) -> str:
    """Lower-case and collapse whitespace (the only normalisation applied to transcripts)."""
    return " ".join(str(text).lower().split())


class CTCHead(nn.Module):
    """Dropout + linear projection of backbone frames to character logits ``(batch, frames, vocab)``."""

    def __init__(self, hidden_size: int, vocab_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(hidden_size, vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(hidden_states))


def ctc_loss(
    logits: torch.Tensor, frame_lengths: torch.Tensor, ctc_labels: torch.Tensor, blank: int = 0
) -> torch.Tensor:
    """Mean CTC loss of ``(batch, frames, vocab)`` logits against -100-padded ``(batch, chars)`` labels."""
    log_probs = torch.log_softmax(logits.float(), dim=-1).transpose(0, 1)
    valid = ctc_labels >= 0
    target_lengths = valid.sum(-1)
    targets = ctc_labels[valid]
    with torch.backends.cudnn.flags(enabled=False):
        return nn.functional.ctc_loss(
            log_probs,
            targets,
            frame_lengths,
            target_lengths,
            blank=blank,
            reduction="mean",
            zero_infinity=True,
        )


def _frame_lengths(
    model: nn.Module, attention_mask: Optional[torch.Tensor], batch: int, frames: int
) -> torch.Tensor:
    if attention_mask is None:
        return torch.full((batch,), frames, dtype=torch.long)
    lengths = model.backbone._get_feat_extract_output_lengths(attention_mask.long().sum(-1))
    return lengths.long().clamp(max=frames)


def attach_ctc_head(model: nn.Module, vocab_size: int, alpha: float, dropout: float = 0.1) -> nn.Module:
    """Give an SSL-backbone hf_ser model a CTC head whose loss (times ``alpha``) is added to ``loss``.

    The head is registered as ``model.ctc_head`` (so ``save_pretrained`` stores it) and two forward hooks
    do the work: one keeps the backbone's last hidden state, the other computes the CTC loss when the
    model is called with ``ctc_labels``. ``model.config`` records ``ctc_vocab_size`` and ``ctc_alpha``.
    Calling it twice is a no-op.
    """
    if getattr(model, "ctc_head", None) is not None:
        return model
    if not hasattr(model, "backbone"):
        raise ValueError(f"CTC needs a model with an SSL `backbone`, got {type(model).__name__}.")
    model.ctc_head = CTCHead(model.config.hidden_size, vocab_size, dropout).to(
        next(model.parameters()).device
    )
    model.config.ctc_vocab_size = int(vocab_size)
    model.config.ctc_alpha = float(alpha)

    def keep_frames(module: nn.Module, args: Any, output: Any) -> None:
        model._ctc_frames = output.last_hidden_state

    def add_ctc_loss(module: nn.Module, args: Any, kwargs: dict, output: Any) -> Any:
        frames = getattr(model, "_ctc_frames", None)
        ctc_labels = kwargs.get("ctc_labels")
        if ctc_labels is None or frames is None:
            return output  # inference: the frames stay available to `transcribe`
        model._ctc_frames = None
        logits = model.ctc_head(frames)
        lengths = _frame_lengths(model, kwargs.get("attention_mask"), logits.shape[0], logits.shape[1])
        loss = model.config.ctc_alpha * ctc_loss(
            logits, lengths.to(logits.device), ctc_labels.to(logits.device)
        )
        output["loss"] = loss if output.get("loss") is None else output["loss"] + loss
        return output

    model.backbone.register_forward_hook(keep_frames)
    model.register_forward_hook(add_ctc_loss, with_kwargs=True)
    return model


def load_ctc_head(model: nn.Module, checkpoint_dir: Union[str, Path]) -> tuple[nn.Module, CharVocab]:
    """Re-attach the CTC head of a saved multitask checkpoint (weights from its safetensors file).

    Returns the model and the character vocabulary, ready for :func:`transcribe`.
    """
    from safetensors import safe_open

    vocab = CharVocab.load(checkpoint_dir)
    attach_ctc_head(model, len(vocab), getattr(model.config, "ctc_alpha", 1.0))
    weights_file = Path(checkpoint_dir) / "model.safetensors"
    with safe_open(str(weights_file), framework="pt") as handle:
        state = {
            key[len("ctc_head.") :]: handle.get_tensor(key)
            for key in handle.keys()
            if key.startswith("ctc_head.")
        }
    if not state:
        raise ValueError(f"{weights_file} holds no ctc_head.* weights: the model was not trained with CTC.")
    model.ctc_head.load_state_dict(state)
    return model, vocab


@torch.no_grad()
def transcribe(model: nn.Module, vocab: CharVocab, inputs: dict[str, torch.Tensor]) -> list[str]:
    """Greedy CTC transcription of a feature-extractor batch with a model from :func:`load_ctc_head`."""
    model(**inputs)
    frames = model._ctc_frames
    model._ctc_frames = None
    ids = model.ctc_head(frames).argmax(-1)
    lengths = _frame_lengths(model, inputs.get("attention_mask"), ids.shape[0], ids.shape[1])
    return [vocab.decode(row[: int(n)].tolist(), collapse=True) for row, n in zip(ids, lengths, strict=False)]


class CTCLabelCollator:
    """Wraps a collator: encodes each example's ``text`` into -100-padded ``ctc_labels``."""

    def __init__(self, collator: Any, vocab: CharVocab) -> None:
        self.collator = collator
        self.vocab = vocab

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        texts = [example.pop("text") for example in examples]
        batch = self.collator(examples)
        encoded = [self.vocab.encode(text) for text in texts]
        width = max(1, max(len(ids) for ids in encoded))
        labels = torch.full((len(encoded), width), -100, dtype=torch.long)
        for row, ids in enumerate(encoded):
            labels[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        batch["ctc_labels"] = labels
        return batch
