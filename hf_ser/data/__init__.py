"""SER data: audio decoding, corpora as `datasets`, speaker folds, collation and augmentation.

```python
from hf_ser.data import load_corpus, speaker_folds, with_decoded_audio, SERDataCollator

emodb = load_corpus("emodb", "path/to/emodb")          # audio column = file paths, nothing decoded
for train_idx, test_idx in speaker_folds(emodb):       # leave-one-speaker-out
    train, test = emodb.select(train_idx), emodb.select(test_idx)
```
"""

import importlib
from typing import Any

_EXPORTS = {
    "AudioError": "audio",
    "CANONICAL_EMOTIONS": "corpora",
    "CORPORA": "corpora",
    "CorpusLayoutError": "corpora",
    "CorpusNotFoundError": "corpora",
    "DEFAULT_SAMPLING_RATE": "audio",
    "IGNORE_INDEX": "collator",
    "SERDataCollator": "collator",
    "SERProcessor": "processor",
    "add_length_column": "collator",
    "audio_duration": "audio",
    "canonical_emotion": "corpora",
    "decode_audio_value": "audio",
    "decode_batch": "decoding",
    "decode_example_audio": "audio",
    "length_grouped_sampler": "collator",
    "list_corpora": "corpora",
    "load_audio": "audio",
    "load_corpus": "corpora",
    "official_splits": "folds",
    "prepare_audio": "audio",
    "read_audio": "audio",
    "register_corpus": "corpora",
    "speaker_folds": "folds",
    "tokenize_texts": "processor",
    "validate_audio": "audio",
    "with_decoded_audio": "decoding",
}
"""Public name -> the submodule defining it. Loaded on first use (PEP 562), so that ``hf_ser.data.audio``
and ``hf_ser.data.windows`` (numpy + soundfile + soxr) import without ``datasets`` or torch: the
torch-free :mod:`hf_ser.runtime` decodes audio with them."""


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "CANONICAL_EMOTIONS",
    "CORPORA",
    "DEFAULT_SAMPLING_RATE",
    "IGNORE_INDEX",
    "AudioError",
    "CorpusLayoutError",
    "CorpusNotFoundError",
    "SERDataCollator",
    "SERProcessor",
    "add_length_column",
    "audio_duration",
    "canonical_emotion",
    "decode_batch",
    "decode_audio_value",
    "decode_example_audio",
    "length_grouped_sampler",
    "list_corpora",
    "load_audio",
    "load_corpus",
    "official_splits",
    "prepare_audio",
    "read_audio",
    "register_corpus",
    "speaker_folds",
    "tokenize_texts",
    "validate_audio",
    "with_decoded_audio",
]
