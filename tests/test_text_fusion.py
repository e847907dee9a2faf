"""Text as a second input (paper 000): config, both fusions, masks, save / load, processor, pipeline.

Tiny random BERT text encoders (hidden 32, 2 layers) built from their config, a word-level
``BertTokenizerFast`` written to a temporary vocab file, and tiny random wav2vec2 backbones; no download.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_feature_extractor, make_tiny_ser_model
from safetensors import safe_open
from transformers import BertConfig, BertTokenizerFast

from hf_ser import SERConfig, SERModelForAudioClassification, SERProcessor, pipeline
from hf_ser.data import SERDataCollator
from hf_ser.export.onnx import check_exportable
from hf_ser.models.text_fusion import pack_real_first
from hf_ser.training.ctc import CharVocab

FUSIONS = ("concat", "cross_attention")
WORDS = ["i", "am", "so", "happy", "sad", "angry", "this", "is", "great", "news", "not", "fine", "ok"]
TRANSCRIPTS = ["i am so happy", "this is not fine", "great news", "ok"]


def tiny_text_config() -> BertConfig:
    return BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, vocab_size=100
    )


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> BertTokenizerFast:
    """A word-level BERT tokenizer over :data:`WORDS` (plus the special tokens and single letters)."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    directory = tmp_path_factory.mktemp("tokenizer")
    (directory / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(directory)
    assert tokenizer("i am so happy")["input_ids"][1] != tokenizer.unk_token_id
    return tokenizer


def text_model(fusion: str = "concat", seed: int = 0, **config) -> SERModelForAudioClassification:
    config.setdefault("seq2seq", "softmax")
    config.setdefault("seq2seq_layers", 1)
    config.setdefault("seq2seq_heads", 2)
    return make_tiny_ser_model(seed=seed, text_backbone=tiny_text_config(), text_fusion=fusion, **config)


def clips(seed: int = 0) -> list[np.ndarray]:
    generator = np.random.default_rng(seed)
    return [generator.normal(size=n).astype(np.float32) * 0.1 for n in (12000, 16000, 9000, 14000)]


def inputs_for(tokenizer, audio, texts) -> dict:
    return SERProcessor(make_feature_extractor(), tokenizer)(audio=audio, text=texts, sampling_rate=16000)


# --------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------
def test_config_validates_text_options():
    with pytest.raises(ValueError, match="Unknown text_fusion 'sum'"):
        SERConfig(id2label={0: "a", 1: "b"}, text_backbone=tiny_text_config(), text_fusion="sum")
    with pytest.raises(ValueError, match="model_type"):
        SERConfig(id2label={0: "a", 1: "b"}, text_backbone={"hidden_size": 32})
    config = SERConfig(id2label={0: "a", 1: "b"}, text_backbone=tiny_text_config().to_dict())
    assert config.has_text_backbone and config.text_backbone.hidden_size == 32
    assert SERConfig.from_dict(config.to_dict()).text_backbone.num_hidden_layers == 2


def test_audio_only_models_are_unchanged():
    model = make_tiny_ser_model()
    assert not model.config.has_text_backbone
    assert not any(name.startswith("text_") for name in model.state_dict())
    assert not hasattr(model, "text_backbone")


def test_pack_real_first_moves_padding_to_the_end():
    states = torch.arange(6, dtype=torch.float32).view(1, 6, 1)
    mask = torch.tensor([[True, False, True, True, False, True]])
    packed, packed_mask = pack_real_first(states, mask)
    assert packed.flatten().tolist() == [0.0, 2.0, 3.0, 5.0, 0.0, 0.0]
    assert packed_mask.tolist() == [[True, True, True, True, False, False]]


# --------------------------------------------------------------------------------------------------
# Forward, backward, masks
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fusion", FUSIONS)
def test_forward_backward_trains_fusion_not_frozen_text_encoder(fusion, tokenizer):
    model = text_model(fusion).train()
    batch = inputs_for(tokenizer, clips()[:2], TRANSCRIPTS[:2])
    output = model(**batch, labels=torch.tensor([0, 1]))
    assert output.logits.shape == (2, 4)
    output.loss.backward()
    assert all(p.grad is not None for p in model.text_fusion.parameters())
    assert all(p.grad is None and not p.requires_grad for p in model.text_backbone.parameters())
    assert not model.text_backbone.training  # frozen = a fixed feature extractor, no dropout


def test_unfrozen_text_encoder_gets_gradients(tokenizer):
    model = text_model("cross_attention", freeze_text_backbone=False).train()
    batch = inputs_for(tokenizer, clips()[:2], TRANSCRIPTS[:2])
    model(**batch, labels=torch.tensor([0, 1])).loss.backward()
    assert model.text_backbone.embeddings.word_embeddings.weight.grad is not None


@pytest.mark.parametrize("fusion", FUSIONS)
def test_text_padding_and_batching_do_not_change_outputs(fusion, tokenizer):
    model = text_model(fusion)
    audio = clips()
    batch = inputs_for(tokenizer, audio, TRANSCRIPTS)
    with torch.no_grad():
        batched = model(**batch).logits
        padded = dict(batch)
        padded["text_input_ids"] = torch.nn.functional.pad(batch["text_input_ids"], (0, 5))
        padded["text_attention_mask"] = torch.nn.functional.pad(batch["text_attention_mask"], (0, 5))
        torch.testing.assert_close(model(**padded).logits, batched, atol=1e-5, rtol=0)
        for index in range(len(audio)):
            alone = model(**inputs_for(tokenizer, [audio[index]], [TRANSCRIPTS[index]])).logits
            torch.testing.assert_close(alone[0], batched[index], atol=1e-5, rtol=0)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_text_changes_the_prediction_and_no_text_is_audio_only(fusion, tokenizer):
    model = text_model(fusion)
    audio = clips()[:1]
    with torch.no_grad():
        happy = model(**inputs_for(tokenizer, audio, ["i am so happy"])).logits
        sad = model(**inputs_for(tokenizer, audio, ["this is not fine"])).logits
        audio_only = model(**inputs_for(tokenizer, audio, None)).logits
        no_tokens = inputs_for(tokenizer, audio, ["ok"])
        no_tokens["text_attention_mask"] = torch.zeros_like(no_tokens["text_attention_mask"])
        torch.testing.assert_close(model(**no_tokens).logits, audio_only, atol=1e-5, rtol=0)
    assert not torch.allclose(happy, sad)


def test_from_backbone_loads_pretrained_text_weights(tmp_path, tiny_backbone_config):
    from transformers import BertModel, Wav2Vec2Model

    torch.manual_seed(3)
    Wav2Vec2Model(tiny_backbone_config("wav2vec2")).save_pretrained(tmp_path / "speech")
    bert = BertModel(tiny_text_config()).eval()
    bert.save_pretrained(tmp_path / "text")
    model = SERModelForAudioClassification.from_backbone(
        tmp_path / "speech", id2label={0: "a", 1: "b"}, text_backbone=str(tmp_path / "text")
    )
    assert model.config.text_backbone_name_or_path == str(tmp_path / "text")
    torch.testing.assert_close(
        model.text_backbone.embeddings.word_embeddings.weight, bert.embeddings.word_embeddings.weight
    )
    assert not any(p.requires_grad for p in model.text_backbone.parameters())


def test_text_inputs_need_a_text_encoder(tokenizer):
    model = make_tiny_ser_model()
    with pytest.raises(ValueError, match="no text encoder"):
        model(**inputs_for(tokenizer, clips()[:1], ["ok"]))


# --------------------------------------------------------------------------------------------------
# Save / load, processor, export
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fusion", FUSIONS)
def test_save_pretrained_round_trip_keeps_the_text_encoder(fusion, tokenizer, tmp_path):
    model = text_model(fusion)
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as weights:
        assert any(key.startswith("text_backbone.") for key in weights.keys())
    assert (tmp_path / "text_fusion.py").is_file()  # remote code ships the fusion module
    loaded = SERModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert loaded.config.text_fusion == fusion and not loaded.text_backbone.training
    assert not any(p.requires_grad for p in loaded.text_backbone.parameters())
    batch = inputs_for(tokenizer, clips()[:2], TRANSCRIPTS[:2])
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits, atol=1e-6, rtol=0)


def test_processor_returns_audio_and_text_inputs_and_round_trips(tokenizer, tmp_path):
    processor = SERProcessor(make_feature_extractor(), tokenizer)
    inputs = processor(audio=clips()[:2], text=TRANSCRIPTS[:2], sampling_rate=16000)
    assert set(inputs) == {"input_values", "attention_mask", "text_input_ids", "text_attention_mask"}
    assert inputs["text_input_ids"][0, 0].item() == tokenizer.cls_token_id
    processor.save_pretrained(tmp_path)
    reloaded = SERProcessor.from_pretrained(tmp_path)
    again = reloaded(audio=clips()[:2], text=TRANSCRIPTS[:2], sampling_rate=16000)
    assert all(torch.equal(again[key], inputs[key]) for key in inputs)
    with pytest.raises(ValueError, match="audio=, text= or both"):
        processor()


def test_collator_tokenizes_the_text_column(tokenizer):
    rows = [
        {"audio": {"array": clip, "sampling_rate": 16000}, "label": 0, "text": text}
        for clip, text in zip(clips()[:2], ["great news", None], strict=True)
    ]
    batch = SERDataCollator(make_feature_extractor(), tokenizer=tokenizer)(rows)
    assert batch["text_input_ids"].shape[0] == 2
    assert batch["text_attention_mask"][1].sum() == 2  # no transcript = [CLS] [SEP]


def test_text_models_do_not_stream():
    model = text_model("concat", seq2seq="gla", seq2seq_bidirectional=False)
    with pytest.raises(ValueError, match="streaming has no place for"):
        model.init_stream_state()


def test_onnx_export_refuses_text_models():
    with pytest.raises(ValueError, match="text as a second input"):
        check_exportable(text_model().config)


# --------------------------------------------------------------------------------------------------
# End to end: training steps -> checkpoint -> pipeline
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory, tokenizer):
    """A concat text model after a few optimizer steps on synthetic clips, saved with its processor."""
    model = text_model("concat", seed=1, ctc_vocab=CharVocab.from_texts(TRANSCRIPTS).tokens).train()
    collator = SERDataCollator(make_feature_extractor(), tokenizer=tokenizer, training=False)
    rows = [
        {"audio": {"array": clip, "sampling_rate": 16000}, "label": index % 4, "text": text}
        for index, (clip, text) in enumerate(zip(clips(), TRANSCRIPTS, strict=True))
    ]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(4):
        loss = model(**collator(rows)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    directory = tmp_path_factory.mktemp("text_checkpoint")
    model.save_pretrained(directory)
    SERProcessor(make_feature_extractor(), tokenizer).save_pretrained(directory)
    return directory


def reference_probabilities(directory, audio, texts):
    model = SERModelForAudioClassification.from_pretrained(directory).eval()
    inputs = SERProcessor.from_pretrained(directory)(audio=audio, text=texts, sampling_rate=16000)
    with torch.no_grad():
        return torch.softmax(model(**inputs).logits.double(), -1).numpy(), model


def probabilities(result: dict, id2label: dict) -> np.ndarray:
    return np.array([result["scores"][id2label[i]] for i in range(len(id2label))])


def test_pipeline_with_text_equals_the_model_forward(trained_checkpoint):
    audio = clips()
    expected, model = reference_probabilities(trained_checkpoint, audio, TRANSCRIPTS)
    pipe = pipeline(str(trained_checkpoint), device="cpu", dtype="float32", batch_size=4)
    id2label = model.config.id2label
    single = pipe(audio[0], sampling_rate=16000, text=TRANSCRIPTS[0])
    np.testing.assert_allclose(probabilities(single, id2label), expected[0], atol=1e-5)
    listed = pipe(audio, sampling_rate=16000, text=TRANSCRIPTS)
    dicts = pipe(
        [{"array": a, "sampling_rate": 16000, "text": t} for a, t in zip(audio, TRANSCRIPTS, strict=True)]
    )
    for index in range(len(audio)):
        np.testing.assert_allclose(probabilities(listed[index], id2label), expected[index], atol=1e-5)
        np.testing.assert_allclose(probabilities(dicts[index], id2label), expected[index], atol=1e-5)


def test_pipeline_reads_a_dataset_text_column(trained_checkpoint):
    datasets = pytest.importorskip("datasets")
    audio = clips()
    expected, model = reference_probabilities(trained_checkpoint, audio, TRANSCRIPTS)
    dataset = datasets.Dataset.from_dict(
        {"audio": [{"array": a, "sampling_rate": 16000} for a in audio], "transcript": TRANSCRIPTS}
    )
    pipe = pipeline(str(trained_checkpoint), device="cpu", dtype="float32")
    results = pipe(dataset, text_column="transcript")
    for index, result in enumerate(results):
        np.testing.assert_allclose(probabilities(result, model.config.id2label), expected[index], atol=1e-5)


def test_pipeline_ctc_text_uses_the_models_own_transcripts(trained_checkpoint):
    audio = clips()[:2]
    model = SERModelForAudioClassification.from_pretrained(trained_checkpoint).eval()
    processor = SERProcessor.from_pretrained(trained_checkpoint)
    audio_inputs = processor(audio=audio, sampling_rate=16000)
    transcripts = model.transcribe_ctc(audio_inputs["input_values"], audio_inputs["attention_mask"])
    expected, _ = reference_probabilities(trained_checkpoint, audio, transcripts)
    pipe = pipeline(str(trained_checkpoint), device="cpu", dtype="float32")
    results = pipe(audio, sampling_rate=16000, text="ctc")
    for index, result in enumerate(results):
        np.testing.assert_allclose(probabilities(result, model.config.id2label), expected[index], atol=1e-5)


def test_pipeline_text_errors(trained_checkpoint, tiny_checkpoint_dir):
    pipe = pipeline(str(trained_checkpoint), device="cpu", dtype="float32")
    audio = clips()[:2]
    with pytest.raises(ValueError, match="pass a list of 2 transcripts"):
        pipe(audio, sampling_rate=16000, text="one")
    with pytest.raises(ValueError, match="3 transcripts for 2 clip"):
        pipe(audio, sampling_rate=16000, text=["a", "b", "c"])
    with pytest.warns(UserWarning, match="empty transcripts"):
        pipe(audio[0], sampling_rate=16000)
    audio_only = pipeline(str(tiny_checkpoint_dir), device="cpu", dtype="float32")
    with pytest.raises(ValueError, match="no text encoder"):
        audio_only(audio[0], sampling_rate=16000, text="ok")


def test_demo_passes_the_transcript_to_text_models(trained_checkpoint, tmp_path):
    pytest.importorskip("gradio")
    soundfile = pytest.importorskip("soundfile")
    from hf_ser.app.demo import LAUNCH_MODEL_KEY, ModelCache, predict

    pipe = pipeline(str(trained_checkpoint), device="cpu", dtype="float32")
    path = tmp_path / "clip.wav"
    soundfile.write(str(path), clips()[1], 16000, subtype="FLOAT")
    *_, summary, _ = predict(ModelCache(pipe), str(path), LAUNCH_MODEL_KEY, transcript=" great news ")
    expected = pipe(clips()[1], sampling_rate=16000, text="great news")
    assert summary["scores"] == pytest.approx(expected["scores"], abs=1e-6)
    *_, summary_without, _ = predict(ModelCache(pipe), str(path), LAUNCH_MODEL_KEY, transcript="")
    assert summary_without["scores"] == pytest.approx(
        pipe(clips()[1], sampling_rate=16000, text="")["scores"]
    )


def test_finetune_recipe_trains_a_text_model_and_the_pipeline_reads_its_checkpoint(tmp_path, tokenizer):
    """The recipe with `model: {text_backbone: <dir>}` on IEMOCAP-layout data (transcripts in `text`)."""
    import importlib.util
    import json
    from pathlib import Path

    from conftest import make_tiny_backbone_config
    from corpus_fixtures import write_iemocap
    from transformers import BertModel, Wav2Vec2Model

    torch.manual_seed(0)
    Wav2Vec2Model(make_tiny_backbone_config("wav2vec2")).save_pretrained(tmp_path / "speech")
    BertModel(tiny_text_config()).save_pretrained(tmp_path / "text")
    tokenizer.save_pretrained(tmp_path / "text")
    data_dir = write_iemocap(tmp_path / "iemocap")
    (tmp_path / "run.yaml").write_text(
        "model:\n"
        f"  text_backbone: {tmp_path / 'text'}\n"
        "  text_fusion: cross_attention\n"
        "  seq2seq: softmax\n"
        "  seq2seq_heads: 2\n"
    )
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "finetune.py"
    spec = importlib.util.spec_from_file_location("recipe_finetune_text", recipe)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "out"
    module.main([
        "--config", str(tmp_path / "run.yaml"), "--backbone", str(tmp_path / "speech"), "--corpus", "iemocap",
        "--data_dir", str(data_dir), "--output_dir", str(out), "--max_steps", "2", "--group", "speaker",
        "--folds", "4", "--per_device_train_batch_size", "2", "--disable_tqdm", "true",
    ])  # fmt: skip
    assert json.loads((out / "config.json").read_text())["text_fusion"] == "cross_attention"
    assert (out / "tokenizer_config.json").is_file()  # the tokenizer is saved with the model
    pipe = pipeline(str(out), device="cpu", dtype="float32")
    result = pipe(clips()[0], sampling_rate=16000, text="great news")
    expected, model = reference_probabilities(out, clips()[:1], ["great news"])
    np.testing.assert_allclose(probabilities(result, model.config.id2label), expected[0], atol=1e-5)
