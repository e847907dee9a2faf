"""Greedy CTC decoding of the CTC head's logits with the character vocabulary a checkpoint stores.

One place for the decoding rule, shared by training (:class:`hf_ser.training.ctc.CharVocab`, which builds
the vocabulary) and inference (the pipeline's ``text="ctc"``, which feeds the greedy transcript to a model
with text as a second input). Tokens: ``tokens[blank_id]`` is the CTC blank, ``<unk>`` stands for unseen
characters (dropped when decoding), ``|`` is the word delimiter (a space).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch

BLANK = "<blank>"
UNKNOWN = "<unk>"
WORD_DELIMITER = "|"


def decode_ids(ids: Sequence[int], tokens: Sequence[str], blank_id: int = 0, collapse: bool = False) -> str:
    """Ids to text; ``collapse=True`` applies CTC decoding (merge repeats, then drop blanks)."""
    out, previous = [], None
    for i in ids:
        i = int(i)
        if collapse and (i == previous or i == blank_id):
            previous = i
            continue
        previous = i
        if 0 <= i < len(tokens) and i != blank_id and tokens[i] != UNKNOWN:
            out.append(" " if tokens[i] == WORD_DELIMITER else tokens[i])
    return "".join(out)


def greedy_transcripts(
    ctc_logits: torch.Tensor,
    frame_mask: Optional[torch.Tensor],
    tokens: Sequence[str],
    blank_id: int = 0,
) -> list[str]:
    """Greedy CTC transcript of each clip: argmax per real frame (``frame_mask``), CTC-collapsed."""
    ids = ctc_logits.argmax(-1)
    lengths = frame_mask.sum(-1).tolist() if frame_mask is not None else [ids.shape[1]] * ids.shape[0]
    return [
        decode_ids(row[: int(n)].tolist(), tokens, blank_id, collapse=True)
        for row, n in zip(ids, lengths, strict=True)
    ]


__all__ = ["BLANK", "UNKNOWN", "WORD_DELIMITER", "decode_ids", "greedy_transcripts"]
