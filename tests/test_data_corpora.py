"""Tests for hf_ser.data.corpora: real EmoDB/URDU copies and synthetic fixtures for every other layout."""

from __future__ import annotations

from collections import Counter

import datasets
import numpy as np
import pytest
from corpus_fixtures import (
    write_clip,
    write_crema_d,
    write_emodb_flat,
    write_folder_tree,
    write_iemocap,
    write_msp_podcast,
    write_ravdess,
    write_tess,
    write_turev,
)

from hf_ser.data import (
    CANONICAL_EMOTIONS,
    AudioError,
    CorpusLayoutError,
    CorpusNotFoundError,
    list_corpora,
    load_corpus,
    with_decoded_audio,
)


def _labels(dataset: datasets.Dataset) -> Counter:
    return Counter(dataset.features["label"].int2str(dataset["label"]))


def _check_common_schema(dataset: datasets.Dataset, corpus: str) -> None:
    features = dataset.features
    assert isinstance(features["audio"], datasets.Audio)
    assert features["audio"].decode is False
    names = features["label"].names
    assert names == [name for name in CANONICAL_EMOTIONS if name in names]  # canonical, alphabetical
    assert set(dataset["corpus"]) == {corpus}
    assert set(dataset["sex"]) <= {"female", "male", None}


def test_registry_lists_every_corpus():
    assert list_corpora() == sorted(
        ["emodb", "urdu", "ravdess", "turev", "crema_d", "tess", "iemocap", "msp_podcast", "folder"]
    )
    with pytest.raises(ValueError, match="Unknown corpus 'savee'.*available"):
        load_corpus("savee", ".")


def test_emodb_real_copy(data_dir):
    emodb = load_corpus("emodb", data_dir / "emodb")
    _check_common_schema(emodb, "emodb")
    assert emodb.num_rows == 535
    assert len(set(emodb["speaker"])) == 10
    assert _labels(emodb) == {"anger": 127, "boredom": 81, "neutral": 79, "happiness": 71, "fear": 69,
                              "sadness": 62, "disgust": 46}  # fmt: skip
    assert emodb.features["label"].names == [
        "anger",
        "boredom",
        "disgust",
        "fear",
        "happiness",
        "neutral",
        "sadness",
    ]
    rows = {row["audio"]["path"].rsplit("/", 1)[1]: row for row in emodb}
    assert rows["03a01Fa.flac"]["speaker"] == "03"
    assert rows["03a01Fa.flac"]["sex"] == "male"
    assert rows["03a01Fa.flac"]["statement"] == "a01"
    assert emodb.features["label"].int2str(rows["03a01Fa.flac"]["label"]) == "happiness"
    assert Counter(emodb["sex"]) == {"female": 302, "male": 233}


def test_urdu_real_copy(data_dir):
    urdu = load_corpus("urdu", data_dir / "urdu")
    _check_common_schema(urdu, "urdu")
    assert urdu.num_rows == 400
    assert len(set(urdu["speaker"])) == 29
    assert _labels(urdu) == {"anger": 100, "happiness": 100, "neutral": 100, "sadness": 100}
    row = next(row for row in urdu if row["audio"]["path"].endswith("SM1_F1_A01.flac"))
    assert (row["speaker"], row["sex"]) == ("SM1", "male")


def test_emotions_filter_keeps_canonical_order(data_dir):
    subset = load_corpus("emodb", data_dir / "emodb", emotions=["sadness", "anger", "neutral"])
    assert subset.features["label"].names == ["anger", "neutral", "sadness"]
    assert subset.num_rows == 127 + 79 + 62
    with pytest.raises(ValueError, match="Unknown emotions \\['joy'\\]; allowed"):
        load_corpus("emodb", data_dir / "emodb", emotions=["joy"])


def test_emodb_wav_subfolder_and_unknown_names(tmp_path):
    root = write_emodb_flat(tmp_path / "emodb")
    emodb = load_corpus("emodb", root)
    assert emodb["speaker"] == ["03", "08", "16"]
    assert emodb["sex"] == ["male", "female", "female"]
    assert emodb.features["label"].names == ["anger", "boredom", "neutral"]
    write_clip(root / "wav" / "recording_1.wav")
    with pytest.raises(CorpusLayoutError, match="recording_1.wav.*SSTTTEV.*e.g. '03a01Fa.wav'"):
        load_corpus("emodb", root)
    assert load_corpus("emodb", root, strict=False).num_rows == 3


@pytest.mark.parametrize(
    "corpus", ["emodb", "urdu", "ravdess", "turev", "crema_d", "tess", "iemocap", "msp_podcast"]
)
def test_missing_directory_names_the_expected_layout(tmp_path, corpus):
    with pytest.raises(CorpusNotFoundError, match=f"for corpus '{corpus}' does not exist. Expected layout"):
        load_corpus(corpus, tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError):  # also a FileNotFoundError for callers catching OS errors
        load_corpus(corpus, tmp_path / "nowhere")


def test_empty_directory_is_an_error(tmp_path):
    with pytest.raises(CorpusLayoutError, match="No usable audio files found for corpus 'tess'"):
        load_corpus("tess", tmp_path)


def test_ravdess_layout(tmp_path):
    root = write_ravdess(tmp_path / "Audio_Speech_Actors_01-24")
    speech = load_corpus("ravdess", root)
    _check_common_schema(speech, "ravdess")
    assert speech.num_rows == 16
    assert set(speech["vocal_channel"]) == {"speech"}
    assert speech.features["label"].names == [e for e in CANONICAL_EMOTIONS if e != "boredom"]
    first = speech[0]
    assert (first["speaker"], first["sex"], first["intensity"], first["statement"]) == (
        "01",
        "male",
        "normal",
        "01",
    )
    assert Counter(speech["sex"]) == {"male": 8, "female": 8}
    both = load_corpus("ravdess", tmp_path, vocal_channel="both")  # Actor_XX one level down
    assert both.num_rows == 18
    assert Counter(both["vocal_channel"])["song"] == 2
    assert load_corpus("ravdess", root, vocal_channel="song").num_rows == 2
    with pytest.raises(ValueError, match="vocal_channel='talk' is not one of"):
        load_corpus("ravdess", root, vocal_channel="talk")
    stereo = next(
        row for row in with_decoded_audio(speech) if row["audio"]["path"].endswith("03-01-03-02-01-01-01.wav")
    )
    assert stereo["audio"]["array"].ndim == 1
    assert stereo["audio"]["array"].shape == (1600,)  # 0.1 s, 48k -> 16k
    write_clip(root / "Actor_01" / "01-01-05-02-01-01-01.wav")  # a video-modality code is not audio-only
    with pytest.raises(CorpusLayoutError, match="modality must be 03.*Actor_XX/03-01-EE-II-SS-RR-AA.wav"):
        load_corpus("ravdess", root)


def test_turev_layout(tmp_path):
    turev = load_corpus("turev", write_turev(tmp_path))
    _check_common_schema(turev, "turev")
    assert _labels(turev) == {"anger": 2, "calm": 2, "happiness": 2, "sadness": 2}
    assert set(turev["speaker"]) == {"1", "2"}
    assert set(turev["word"]) == {"kapi"}
    assert set(turev["sex"]) == {None}
    write_clip(tmp_path / "Angry" / "kapi.wav")
    with pytest.raises(CorpusLayoutError, match="kapi.wav.*<speaker>_<xx>_<word>.wav"):
        load_corpus("turev", tmp_path)


def test_crema_d_layout_with_and_without_demographics(tmp_path):
    crema = load_corpus("crema_d", write_crema_d(tmp_path / "a"))
    _check_common_schema(crema, "crema_d")
    assert crema.features["label"].names == ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    assert dict(zip(crema["speaker"], crema["sex"], strict=True)) == {"1001": "male", "1002": "female"}
    assert set(crema["intensity"]) == {"unspecified", "high", "low", "medium"}
    assert set(crema["statement"]) == {"DFA"}
    no_demo = load_corpus("crema_d", write_crema_d(tmp_path / "b", demographics=False))
    assert set(no_demo["sex"]) == {None}
    with pytest.raises(CorpusNotFoundError, match="AudioWAV folder"):
        load_corpus("crema_d", tmp_path)
    write_clip(tmp_path / "a" / "AudioWAV" / "1001_DFA_BOR_XX.wav")
    with pytest.raises(CorpusLayoutError, match="emotion must be one of"):
        load_corpus("crema_d", tmp_path / "a")


def test_tess_layout(tmp_path):
    tess = load_corpus("tess", write_tess(tmp_path))
    _check_common_schema(tess, "tess")
    assert tess.num_rows == 14
    assert set(tess["speaker"]) == {"OAF", "YAF"}
    assert set(tess["sex"]) == {"female"}
    assert _labels(tess)["surprise"] == 2  # "ps" = pleasant surprise
    assert "calm" not in tess.features["label"].names


def test_iemocap_four_class_and_extended(tmp_path):
    root = write_iemocap(tmp_path)
    iemocap = load_corpus("iemocap", root)
    _check_common_schema(iemocap, "iemocap")
    assert iemocap.features["label"].names == ["anger", "happiness", "neutral", "sadness"]
    assert iemocap.num_rows == 5  # fru and sur dropped
    rows = {row["audio"]["path"].rsplit("/", 1)[1]: row for row in iemocap}
    excited = rows["Ses01F_impro01_M000.wav"]
    assert iemocap.features["label"].int2str(excited["label"]) == "happiness"  # exc merged into happiness
    assert (excited["speaker"], excited["sex"], excited["session"]) == ("Ses01M", "male", 1)
    assert (excited["valence"], excited["arousal"], excited["dominance"]) == (4.0, 3.5, 3.0)
    assert excited["original_label"] == "exc"
    assert excited["text"] == "Hello number 1."
    assert sorted(set(iemocap["speaker"])) == ["Ses01F", "Ses01M", "Ses02F", "Ses02M"]
    extended = load_corpus("iemocap", root, four_class=False)
    assert extended.num_rows == 6
    assert "surprise" in extended.features["label"].names
    (root / "Session2" / "sentences" / "wav" / "Ses02F_impro02" / "Ses02F_impro02_F000.wav").unlink()
    with pytest.raises(CorpusLayoutError, match="Ses02F_impro02_F000 is labelled .* but has no audio"):
        load_corpus("iemocap", root)
    assert load_corpus("iemocap", root, strict=False).num_rows == 4


def test_msp_podcast_layout_and_unlabelled_rows(tmp_path):
    root = write_msp_podcast(tmp_path)
    msp = load_corpus("msp_podcast", root)
    _check_common_schema(msp, "msp_podcast")
    assert msp.num_rows == 4  # contempt row dropped
    assert msp.features["label"].names == ["anger", "happiness", "neutral", "sadness"]
    assert msp["split"] == ["Train", "Train", "Development", "Test2"]
    assert msp[0]["arousal"] == pytest.approx(5.2)
    assert msp[0]["sex"] == "male"
    assert msp[0]["speaker"] == "127"
    # Transcripts/<stem>.txt fill `text` (whitespace collapsed); clips without one get None.
    assert msp["text"] == ["I can not believe this.", None, "Great news", None]
    everything = load_corpus("msp_podcast", root, drop_unlabelled=False)
    assert everything.num_rows == 5
    assert everything["label"][3] == -1
    assert everything[3]["sex"] is None
    (root / "Audios" / "MSP-PODCAST_0001_0001.wav").unlink()
    with pytest.raises(CorpusLayoutError, match="MSP-PODCAST_0001_0001.wav.*listed in the CSV but missing"):
        load_corpus("msp_podcast", root)
    (root / "Labels" / "labels_consensus.csv").unlink()
    with pytest.raises(CorpusNotFoundError, match="labels_consensus.csv"):
        load_corpus("msp_podcast", root)


def test_folder_tree_and_csv(tmp_path):
    root = write_folder_tree(tmp_path / "tree")
    tree = load_corpus("folder", root, speaker_regex=r"^(s\d)_")
    _check_common_schema(tree, "folder")
    assert _labels(tree) == {"anger": 2, "happiness": 2, "neutral": 2}
    assert sorted(set(tree["speaker"])) == ["s1", "s2"]
    write_clip(root / "frustrated" / "s1_f.wav")
    with pytest.raises(CorpusLayoutError, match="'frustrated'.*label_map"):
        load_corpus("folder", root)
    mapped = load_corpus("folder", root, label_map={"frustrated": "anger"})
    assert _labels(mapped)["anger"] == 3

    csv_path = tmp_path / "list.csv"
    csv_path.write_text(
        "path,label,speaker,sex\ntree/angry/s1_angry.wav,Angry,A,F\ntree/neu/s2_neu.wav,neutral,B,m\n"
    )
    from_csv = load_corpus("folder", csv_path)
    assert from_csv["speaker"] == ["A", "B"]
    assert from_csv["sex"] == ["female", "male"]
    assert load_corpus("folder", tmp_path, csv_file="list.csv").num_rows == 2
    csv_path.write_text("file,emotion\nx.wav,sad\n")
    with pytest.raises(CorpusLayoutError, match="needs columns path,label"):
        load_corpus("folder", csv_path)


def test_check_audio_reports_undecodable_files_by_path(tmp_path):
    root = write_turev(tmp_path)
    (root / "Sad" / "2_07_kapi.wav").write_bytes(b"not audio at all")
    assert load_corpus("turev", root).num_rows == 8  # lazy: nothing decoded
    with pytest.raises(AudioError, match="(?s)1 audio file\\(s\\) cannot be decoded:.*Sad/2_07_kapi.wav"):
        load_corpus("turev", root, check_audio=True)
    (root / "Sad" / "2_07_kapi.wav").unlink()
    checked = load_corpus("turev", root, check_audio=True)
    assert checked["duration"] == pytest.approx([0.1] * 7)
    root = write_turev(root)  # restore the file, then break it again for the lazy path
    (root / "Sad" / "2_07_kapi.wav").write_bytes(b"not audio at all")
    decoded = with_decoded_audio(load_corpus("turev", root))
    with pytest.raises(AudioError, match="Sad/2_07_kapi.wav"):
        [row["audio"] for row in decoded]


def test_decoded_fixture_audio_is_16k_mono(tmp_path):
    tess = with_decoded_audio(load_corpus("tess", write_tess(tmp_path)))
    array = tess[0]["audio"]["array"]
    assert array.dtype == np.float32
    assert array.shape == (1600,)
