"""``SERProcessor``: the feature extractor and the tokenizer of a model with text as a second input.

Models built with ``SERConfig(text_backbone=...)`` take a waveform *and* a transcript (paper 000). The
processor turns both into model inputs in one call: the feature extractor's ``input_values`` /
``attention_mask`` and the tokenizer's ids, renamed ``text_input_ids`` / ``text_attention_mask`` so they
never collide with the audio inputs.

It is a small class rather than a transformers ``ProcessorMixin``: ``ProcessorMixin.save_pretrained``
writes a combined ``processor_config.json`` layout, while hf_ser checkpoints keep the plain
``preprocessor_config.json`` the pipeline, the ONNX export and the Hub tooling read. Both parts are saved
side by side in the checkpoint directory, as each does on its own.

Example:

```python
>>> processor = SERProcessor.from_pretrained("path/to/checkpoint")  # doctest: +SKIP
>>> inputs = processor(audio=[clip], text=["I am so happy"], sampling_rate=16000)  # doctest: +SKIP
>>> model(**inputs).logits  # doctest: +SKIP
```
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

import torch

TEXT_INPUT_NAMES = ("text_input_ids", "text_attention_mask")
"""The model's names of the tokenizer's ``input_ids`` / ``attention_mask``."""


def tokenize_texts(tokenizer: Any, texts: Sequence[Optional[str]]) -> dict[str, torch.Tensor]:
    """Tokenise transcripts into ``text_input_ids`` / ``text_attention_mask`` (padded, PyTorch tensors).

    ``None`` counts as an empty transcript (the tokenizer's special tokens only). Only the ids and the mask
    are kept (no ``token_type_ids``: every transcript is one segment).
    """
    encoded = tokenizer(
        ["" if text is None else str(text) for text in texts],
        padding=True,
        truncation=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    return {"text_input_ids": encoded["input_ids"], "text_attention_mask": encoded["attention_mask"]}


class SERProcessor:
    """Feature extractor + tokenizer: ``processor(audio=..., text=..., sampling_rate=...)``.

    Args:
        feature_extractor: the model's feature extractor (e.g. `Wav2Vec2FeatureExtractor`).
        tokenizer: the text encoder's tokenizer (any transformers tokenizer).
    """

    def __init__(self, feature_extractor: Any, tokenizer: Any) -> None:
        self.feature_extractor = feature_extractor
        self.tokenizer = tokenizer

    @property
    def model_input_names(self) -> list[str]:
        """The inputs the processor produces (the feature extractor's, then the text ones); transformers'
        Trainer reads the first as the main input."""
        return [*self.feature_extractor.model_input_names, *TEXT_INPUT_NAMES]

    @property
    def sampling_rate(self) -> int:
        """The feature extractor's sampling rate."""
        return int(self.feature_extractor.sampling_rate)

    def __call__(
        self,
        audio: Any = None,
        text: Union[str, Sequence[Optional[str]], None] = None,
        sampling_rate: Optional[int] = None,
        **audio_kwargs: Any,
    ) -> dict[str, torch.Tensor]:
        """Model inputs for ``audio`` (one array or a list) and/or ``text`` (one string or a list, aligned).

        The audio is padded with an attention mask (``padding=True``, PyTorch tensors, unless
        ``audio_kwargs`` say otherwise); the text gives ``text_input_ids`` / ``text_attention_mask``.
        """
        if audio is None and text is None:
            raise ValueError("SERProcessor needs audio=, text= or both.")
        inputs: dict[str, torch.Tensor] = {}
        if audio is not None:
            audio_kwargs = {
                "padding": True,
                "return_attention_mask": True,
                "return_tensors": "pt",
                **audio_kwargs,
            }
            rate = self.sampling_rate if sampling_rate is None else sampling_rate
            inputs.update(self.feature_extractor(audio, sampling_rate=rate, **audio_kwargs))
        if text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            inputs.update(tokenize_texts(self.tokenizer, texts))
        return inputs

    def save_pretrained(self, save_directory: Union[str, os.PathLike], **kwargs: Any) -> None:
        """Save both parts into ``save_directory`` (``preprocessor_config.json`` + the tokenizer files)."""
        self.feature_extractor.save_pretrained(save_directory, **kwargs)
        self.tokenizer.save_pretrained(save_directory, **kwargs)

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: Union[str, os.PathLike], **kwargs: Any
    ) -> SERProcessor:
        """Load both parts with ``AutoFeatureExtractor`` / ``AutoTokenizer`` from one directory or Hub id."""
        from transformers import AutoFeatureExtractor, AutoTokenizer

        return cls(
            AutoFeatureExtractor.from_pretrained(pretrained_model_name_or_path, **kwargs),
            AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs),
        )


__all__ = ["TEXT_INPUT_NAMES", "SERProcessor", "tokenize_texts"]
