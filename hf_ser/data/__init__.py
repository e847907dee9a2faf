"""SER data: audio decoding, corpora as `datasets`, speaker folds, collation and augmentation.

```python
from hf_ser.data import load_corpus, speaker_folds, with_decoded_audio, SERDataCollator

emodb = load_corpus("emodb", "path/to/emodb")          # audio column = file paths, nothing decoded
for train_idx, test_idx in speaker_folds(emodb):       # leave-one-speaker-out
    train, test = emodb.select(train_idx), emodb.select(test_idx)
```
"""

from .audio import (
    DEFAULT_SAMPLING_RATE,
    AudioError,
    audio_duration,
    decode_audio_value,
    decode_example_audio,
    load_audio,
    prepare_audio,
    read_audio,
    validate_audio,
)
from .collator import IGNORE_INDEX, SERDataCollator, add_length_column, length_grouped_sampler
from .corpora import (
    CANONICAL_EMOTIONS,
    CORPORA,
    CorpusLayoutError,
    CorpusNotFoundError,
    canonical_emotion,
    list_corpora,
    load_corpus,
    register_corpus,
)
from .decoding import decode_batch, with_decoded_audio
from .folds import official_splits, speaker_folds

__all__ = [
    "CANONICAL_EMOTIONS",
    "CORPORA",
    "DEFAULT_SAMPLING_RATE",
    "IGNORE_INDEX",
    "AudioError",
    "CorpusLayoutError",
    "CorpusNotFoundError",
    "SERDataCollator",
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
    "validate_audio",
    "with_decoded_audio",
]
