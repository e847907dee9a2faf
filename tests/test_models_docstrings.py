"""Tests for hf_ser.models.docstrings: the shared forward docstring parts reach every model family."""

from __future__ import annotations

import pytest

from hf_ser import (
    LSTMSAForAudioClassification,
    SERModelForAudioClassification,
    Wav2SmallForAudioClassification,
)
from hf_ser.models.docstrings import LABELS_ARGS_DOCSTRING, RETURN_DICT_ARG_DOCSTRING, fill_docstring


@pytest.mark.parametrize(
    "model_class",
    [SERModelForAudioClassification, LSTMSAForAudioClassification, Wav2SmallForAudioClassification],
)
def test_forward_docstrings_contain_the_shared_parts(model_class):
    doc = model_class.forward.__doc__
    flat = " ".join(doc.split())
    assert " ".join(LABELS_ARGS_DOCSTRING.split()) in flat
    assert " ".join(RETURN_DICT_ARG_DOCSTRING.split()) in flat
    assert "{labels_args}" not in doc
    assert "{return_dict_arg}" not in doc


def test_fill_docstring_indents_like_the_placeholder_and_keeps_other_lines():
    filled = fill_docstring("Args:\n    x: kept {braces}\n    {part}\n", {"part": "a:\n    b"})
    assert filled == "Args:\n    x: kept {braces}\n    a:\n        b"
