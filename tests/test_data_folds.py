"""Tests for hf_ser.data.folds: speaker-independent protocols on the real corpora and fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from corpus_fixtures import write_iemocap, write_msp_podcast

from hf_ser.data import load_corpus, official_splits, speaker_folds


@pytest.fixture(scope="module")
def emodb(data_dir):
    return load_corpus("emodb", data_dir / "emodb")


@pytest.fixture(scope="module")
def urdu(data_dir):
    return load_corpus("urdu", data_dir / "urdu")


def _assert_speaker_independent(dataset, folds, group="speaker"):
    groups = np.asarray(dataset[group])
    covered = np.concatenate([test for _, test in folds])
    assert sorted(covered.tolist()) == list(range(dataset.num_rows))  # test sets partition the rows
    for train, test in folds:
        assert len(test) > 0
        assert len(train) + len(test) == dataset.num_rows
        assert not set(groups[train]) & set(groups[test])  # no speaker on both sides


@pytest.mark.parametrize("n_folds", [None, 2, 5])
def test_no_speaker_on_both_sides_emodb(emodb, n_folds):
    folds = speaker_folds(emodb, n_folds)
    assert len(folds) == (10 if n_folds is None else n_folds)
    _assert_speaker_independent(emodb, folds)


@pytest.mark.parametrize("n_folds", [None, 3, 5, 10])
def test_no_speaker_on_both_sides_urdu(urdu, n_folds):
    folds = speaker_folds(urdu, n_folds)
    assert len(folds) == (29 if n_folds is None else n_folds)
    _assert_speaker_independent(urdu, folds)


def test_leave_one_speaker_out_order_and_sizes(emodb):
    folds = speaker_folds(emodb)
    speakers = np.asarray(emodb["speaker"])
    assert [speakers[test][0] for _, test in folds] == [
        "03",
        "08",
        "09",
        "10",
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
    ]
    assert [len(test) for _, test in folds] == [int((speakers == s).sum()) for s in sorted(set(speakers))]


def test_k_folds_are_balanced_in_size_and_labels(emodb, urdu):
    labels = np.asarray(emodb["label"])
    folds = speaker_folds(emodb, 5)
    sizes = np.array([len(test) for _, test in folds])
    assert sizes.max() - sizes.min() <= 15  # 535 rows / 5 = 107
    shares = np.stack([np.bincount(labels[test], minlength=7) / len(test) for _, test in folds])
    overall = np.bincount(labels, minlength=7) / len(labels)
    assert np.abs(shares - overall).max() < 0.07
    urdu_sizes = [len(test) for _, test in speaker_folds(urdu, 5)]
    assert max(urdu_sizes) - min(urdu_sizes) <= 30  # 400 / 5 = 80; one speaker alone has 80 clips


def test_seed_changes_assignment_but_is_reproducible(urdu):
    def tests(seed):
        return [test.tolist() for _, test in speaker_folds(urdu, 4, seed=seed)]

    assert tests(0) == tests(0)
    assert any(tests(0) != tests(seed) for seed in (1, 2, 3))


def test_fold_argument_errors(emodb):
    with pytest.raises(
        ValueError, match="n_folds=11 must be an integer between 2 and the number of groups \\(10\\)"
    ):
        speaker_folds(emodb, 11)
    with pytest.raises(ValueError, match="n_folds=1"):
        speaker_folds(emodb, 1)
    with pytest.raises(ValueError, match="Column 'session' not in dataset columns"):
        speaker_folds(emodb, group="session")
    with pytest.raises(ValueError, match="1 row\\(s\\) have no 'speaker'"):
        speaker_folds({"speaker": ["a", None, "b"], "label": [0, 1, 0]})


def test_iemocap_leave_one_session_out(tmp_path):
    iemocap = load_corpus("iemocap", write_iemocap(tmp_path))
    folds = speaker_folds(iemocap, group="session")
    assert len(folds) == 2
    _assert_speaker_independent(iemocap, folds, group="session")
    _assert_speaker_independent(iemocap, folds, group="speaker")


def test_msp_podcast_official_splits(tmp_path):
    msp = load_corpus("msp_podcast", write_msp_podcast(tmp_path))
    splits = official_splits(msp)
    assert sorted(splits) == ["test2", "train", "validation"]
    assert splits["train"].num_rows == 2
    assert splits["validation"]["speaker"] == ["15"]
