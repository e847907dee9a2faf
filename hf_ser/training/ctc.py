"""Multitask emotion + CTC character recognition (Cai et al., 2021): loss = emotion loss + alpha * CTC.

When a corpus has transcripts (a ``text`` column), the recipe gives the model its CTC character head
(``SERConfig(ctc_vocab=..., ctc_alpha=...)``, see :class:`~hf_ser.SERModelForAudioClassification`): the
shared backbone gets a linguistic training signal and the model transcribes as a by-product. This module
holds the recipe side of it:

- :class:`CharVocab`: the character vocabulary, built from the *training* transcripts. Its tokens are
  stored in the checkpoint's ``config.json`` (``ctc_vocab``), the one place the vocabulary lives, so a
  checkpoint loaded with ``from_pretrained`` transcribes without any extra file.
- :class:`CTCLabelCollator`: turns each example's ``text`` into ``ctc_labels`` (padded with -100).
- :func:`transcribe`: greedy CTC decoding of a batch with any hf_ser model that has the head.

Example:

```python
>>> from hf_ser.training.ctc import CharVocab
>>> vocab = CharVocab.from_texts(["Ja genau", "nein"])
>>> vocab.tokens[:3], vocab.decode(vocab.encode("nein ja"))
(['<blank>', '<unk>', 'a'], 'nein ja')
>>> # model = SERModelForAudioClassification.from_backbone(..., ctc_vocab=vocab.tokens, ctc_alpha=0.1)

```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

import torch
from torch import nn

from ..models.backbone import frame_mask
from ..models.ctc_decoding import BLANK, UNKNOWN, WORD_DELIMITER, decode_ids, greedy_transcripts
from ..models.losses import IGNORE_INDEX


def normalize_text(text: Optional[str]) -> str:
    """Lower-case and collapse whitespace (the only normalisation applied to transcripts); None -> ""."""
    return "" if text is None else " ".join(str(text).lower().split())


@dataclass
class CharVocab:
    """Character vocabulary for CTC: ``tokens[blank_id]`` is the blank, ``<unk>`` stands for characters
    unseen in training, spaces become ``|``.

    :meth:`from_texts` builds ``[<blank>, <unk>, sorted characters...]``; :meth:`from_config` reads the
    vocabulary a checkpoint stores in ``config.ctc_vocab``.
    """

    tokens: list[str]
    blank_id: int = 0

    def __post_init__(self) -> None:
        self.tokens = list(self.tokens)
        if not 0 <= self.blank_id < len(self.tokens):
            raise ValueError(
                f"blank_id {self.blank_id} is outside the vocabulary of {len(self.tokens)} tokens."
            )
        self._index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def from_texts(cls, texts: Iterable[Optional[str]]) -> CharVocab:
        """Build the vocabulary from transcripts (lower-cased), sorted for reproducibility."""
        chars = sorted({WORD_DELIMITER if c == " " else c for text in texts for c in normalize_text(text)})
        if not chars:
            raise ValueError("Cannot build a CTC vocabulary: the training transcripts are all empty.")
        return cls([BLANK, UNKNOWN, *chars])

    @classmethod
    def from_config(cls, config: Any) -> CharVocab:
        """The vocabulary saved in an hf_ser config (``config.ctc_vocab`` / ``ctc_blank_id``)."""
        tokens = getattr(config, "ctc_vocab", None)
        if not tokens:
            raise ValueError(
                "The model config has no `ctc_vocab`: the model was not trained with a CTC head, or its "
                "head uses your own tokeniser (pass `vocab=` explicitly)."
            )
        return cls(list(tokens), blank_id=getattr(config, "ctc_blank_id", 0))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: Optional[str]) -> list[int]:
        """Characters of ``text`` to ids (unseen characters map to ``<unk>``; None or "" -> [])."""
        unknown = self._index.get(UNKNOWN)
        ids = [self._index.get(WORD_DELIMITER if c == " " else c, unknown) for c in normalize_text(text)]
        return [i for i in ids if i is not None]

    def decode(self, ids: Sequence[int], collapse: bool = False) -> str:
        """Ids to text; ``collapse=True`` applies CTC decoding (merge repeats, then drop blanks)."""
        return decode_ids(ids, self.tokens, self.blank_id, collapse)


@torch.no_grad()
def transcribe(
    model: nn.Module, inputs: dict[str, torch.Tensor], vocab: Optional[CharVocab] = None
) -> list[str]:
    """Greedy CTC transcription of a feature-extractor batch (argmax per real frame, CTC-collapsed).

    Args:
        model: an hf_ser model with a CTC head (``config.ctc_vocab_size``), e.g. a checkpoint of the
            ``ctc_multitask`` recipe loaded with ``from_pretrained``; call ``.eval()`` first.
        inputs: ``feature_extractor(clips, ..., return_attention_mask=True, return_tensors="pt")``.
        vocab: the vocabulary; defaults to the one saved in ``model.config.ctc_vocab``.
    """
    vocab = vocab if vocab is not None else CharVocab.from_config(model.config)
    output = model(**inputs)
    if output.ctc_logits is None:
        raise ValueError(f"{type(model).__name__} has no CTC head (config.ctc_vocab_size is None).")
    mask = frame_mask(model.backbone, inputs.get("attention_mask"), output.ctc_logits.shape[1])
    return greedy_transcripts(output.ctc_logits, mask, vocab.tokens, vocab.blank_id)


class CTCLabelCollator:
    """Wraps a collator: encodes each example's ``text`` into ``ctc_labels`` right-padded with -100.

    A row without a transcript (``None`` / empty) gets only -100 and is left out of the CTC loss.
    """

    def __init__(self, collator: Any, vocab: CharVocab, text_column: str = "text") -> None:
        self.collator = collator
        self.vocab = vocab
        self.text_column = text_column

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        texts = [example.get(self.text_column) for example in examples]
        batch = self.collator(
            [
                {key: value for key, value in example.items() if key != self.text_column}
                for example in examples
            ]
        )
        encoded = [self.vocab.encode(text) for text in texts]
        width = max(1, max(len(ids) for ids in encoded))
        labels = torch.full((len(encoded), width), IGNORE_INDEX, dtype=torch.long)
        for row, ids in enumerate(encoded):
            labels[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        batch["ctc_labels"] = labels
        return batch
