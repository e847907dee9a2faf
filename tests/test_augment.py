"""Tests for hf_ser.data.augment: presets, CopyPaste, speed perturbation, SpecAugment, training-only use."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_ser.data import SERDataCollator, load_audio, load_corpus, with_decoded_audio
from hf_ser.data.augment import (
    PRESETS,
    Augmenter,
    CopyPaste,
    SpecAugment,
    SpeedPerturbation,
    SyntheticReverb,
    build_augmentation,
)
from hf_ser.data.transforms import RandomCrop


@pytest.fixture(scope="module")
def emodb_small(data_dir):
    """Speakers 03 and 08 only (~100 clips): enough neutral and same-emotion partners for CopyPaste."""
    emodb = load_corpus("emodb", data_dir / "emodb")
    return emodb.select([i for i, s in enumerate(emodb["speaker"]) if s in ("03", "08")])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_change_clips_reproducibly(preset, emodb_clips):
    clip = emodb_clips[0]
    first = build_augmentation(preset, seed=3, reverb=True, speed_factors=(0.9, 1.1), p=1.0)
    second = build_augmentation(preset, seed=3, reverb=True, speed_factors=(0.9, 1.1), p=1.0)
    outputs = [first(clip, 16000) for _ in range(3)]
    assert all(out.dtype == np.float32 for out in outputs)
    assert all(np.isfinite(out).all() for out in outputs)
    assert all(out.shape != clip.shape or not np.allclose(out, clip) for out in outputs)
    for out in outputs:  # same seed, same call sequence -> same outputs
        np.testing.assert_array_equal(out, second(clip, 16000))
    other = build_augmentation(preset, seed=4, reverb=True, speed_factors=(0.9, 1.1), p=1.0)(clip, 16000)
    assert other.shape != outputs[0].shape or not np.allclose(other, outputs[0])
    first.reset()
    np.testing.assert_array_equal(first(clip, 16000), outputs[0])


def test_augmentation_depends_on_seed_epoch_and_clip_only(emodb_clips):
    """No sequential state: a clip's augmentation does not depend on what was augmented before it (what
    makes --resume and several data loader workers exact), and a new epoch draws new augmentations."""
    first, second = emodb_clips[:2]
    fresh = build_augmentation("default", seed=5, speed_factors=(0.9, 1.1), p=1.0)
    used = build_augmentation("default", seed=5, speed_factors=(0.9, 1.1), p=1.0)
    used(first, 16000)
    np.testing.assert_array_equal(used(second, 16000), fresh(second, 16000))
    epoch0 = fresh(second, 16000)
    fresh.epoch = 1
    later = fresh(second, 16000)
    assert later.shape != epoch0.shape or not np.allclose(later, epoch0)
    crop = RandomCrop(None, seed=5, augment=used)
    crop.epoch = 1  # the crop passes its epoch on to the augmenter
    np.testing.assert_array_equal(crop(second, 16000), later)


def test_augmenter_leaves_global_random_state_alone(emodb_clips):
    state = np.random.get_state()[1].copy()
    build_augmentation("default", seed=0, p=1.0)(emodb_clips[0], 16000)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_preset_errors():
    with pytest.raises(ValueError, match="Unknown augmentation preset 'wild'; available"):
        build_augmentation("wild")
    with pytest.raises(ValueError, match="Unknown augmentation options \\['snr'\\]; allowed"):
        build_augmentation("default", snr=(1, 2))


def test_individual_options_can_be_dropped(emodb_clips):
    only_gain = build_augmentation(
        "default",
        noise_snr_db=None,
        pitch_semitones=None,
        stretch_rate=None,
        band_pass=False,
        gain_db=(6, 6),
        p=1.0,
    )
    out = only_gain(emodb_clips[1], 16000)
    np.testing.assert_allclose(out, emodb_clips[1] * 10 ** (6 / 20), rtol=1e-4, atol=1e-6)


def test_speed_perturbation_changes_length():
    clip = np.sin(np.linspace(0, 500, 16000)).astype(np.float32)
    rng = np.random.default_rng(0)
    fast = SpeedPerturbation(factors=(1.25,))(clip, 16000, rng=rng)
    slow = SpeedPerturbation(factors=(0.8,))(clip, 16000, rng=rng)
    assert fast.shape == (12800,)
    assert slow.shape == (20000,)
    assert SpeedPerturbation(factors=(1.0,))(clip, 16000, rng=rng) is clip
    with pytest.raises(ValueError, match="positive speeds"):
        SpeedPerturbation(factors=(0.0,))


def test_synthetic_reverb_keeps_length_and_adds_tail():
    impulse = np.zeros(8000, np.float32)
    impulse[100] = 1.0
    out = SyntheticReverb(rt60=(0.3, 0.3), wet=(0.5, 0.5), p=1.0)(
        impulse, 16000, rng=np.random.default_rng(0)
    )
    assert out.shape == impulse.shape
    assert np.abs(out[2000:]).max() > 0  # energy after the click


def test_room_reverb_is_reproducible_and_keeps_level(emodb_clips):
    clip = emodb_clips[2]
    first = build_augmentation("light", seed=1, reverb="room", noise_snr_db=None, gain_db=None, p=1.0)
    second = build_augmentation("light", seed=1, reverb="room", noise_snr_db=None, gain_db=None, p=1.0)
    out = first(clip, 16000)
    assert out.shape == clip.shape
    assert not np.allclose(out, clip)
    assert np.abs(out).max() == pytest.approx(np.abs(clip).max(), rel=1e-4)
    np.testing.assert_array_equal(out, second(clip, 16000))
    with pytest.raises(ValueError, match="reverb='hall' is not one of"):
        build_augmentation("light", reverb="hall")


def test_copy_paste_modes_keep_the_emotional_label(emodb_small):
    names = emodb_small.features["label"].names
    anger, neutral = names.index("anger"), names.index("neutral")
    row = next(r for r in emodb_small if r["label"] == anger)
    clip = load_audio(row["audio"]["path"])
    neutral_clips = {load_audio(r["audio"]["path"]).tobytes() for r in emodb_small if r["label"] == neutral}
    anger_clips = {load_audio(r["audio"]["path"]).tobytes() for r in emodb_small if r["label"] == anger}
    rng = np.random.default_rng(0)
    for mode, pool in (("n-cp", neutral_clips), ("se-cp", anger_clips)):
        copy_paste = CopyPaste(emodb_small, mode=mode, probability=1.0, chunk_seconds=None)
        out = copy_paste(clip, 16000, label=anger, rng=rng)
        assert out.size == 2 * clip.size  # EmoDB copy: every clip is 2.0 s
        head, tail = out[: clip.size], out[clip.size :]
        partner = tail if np.array_equal(head, clip) else head
        assert np.array_equal(head, clip) or np.array_equal(tail, clip)  # the emotional clip is kept whole
        assert partner.tobytes() in pool  # partner: neutral (N-CP) or same emotion (SE-CP)
    chunked = CopyPaste(emodb_small, mode="both", probability=1.0, chunk_seconds=0.5)(
        clip, 16000, label=anger, rng=rng
    )
    assert chunked.size == clip.size + 8000
    never = CopyPaste(emodb_small, probability=0.0)
    assert never(clip, 16000, label=anger, rng=rng) is clip
    share = CopyPaste(emodb_small, probability=0.3, chunk_seconds=0.1)
    augmented = [share(clip, 16000, label=anger, rng=rng).size != clip.size for _ in range(200)]
    assert 0.2 < np.mean(augmented) < 0.4  # share of augmented clips is configurable


def test_copy_paste_errors(emodb_small, data_dir):
    with pytest.raises(ValueError, match="mode='x-cp' is not one of"):
        CopyPaste(emodb_small, mode="x-cp")
    with pytest.raises(ValueError, match="needs the clip's label"):
        CopyPaste(emodb_small)(np.zeros(10, np.float32), 16000)
    no_neutral = load_corpus("emodb", data_dir / "emodb", emotions=["anger", "sadness"])
    with pytest.raises(ValueError, match="needs a 'neutral' class"):
        CopyPaste(no_neutral, mode="n-cp")


def test_training_split_changes_but_test_split_never_does(emodb_small):
    train, test = emodb_small.select(range(0, 20)), emodb_small.select(range(20, 30))
    copy_paste = CopyPaste(train, probability=0.5)
    augmenter = build_augmentation("default", seed=0, copy_paste=copy_paste, p=1.0)
    augmented_train = with_decoded_audio(train, augment=augmenter)
    plain_test = with_decoded_audio(test)
    for row in (augmented_train[i] for i in range(3)):
        original = load_audio(row["audio"]["path"])
        assert row["audio"]["array"].shape != original.shape or not np.allclose(
            row["audio"]["array"], original
        )
    for row in plain_test:
        np.testing.assert_array_equal(row["audio"]["array"], load_audio(row["audio"]["path"]))


def test_collator_augments_in_training_mode_only(emodb_small, feature_extractor):
    rows = [emodb_small[i] for i in range(3)]
    augmenter = Augmenter([SpeedPerturbation(factors=(1.25,))], seed=0)
    collator = SERDataCollator(feature_extractor, augment=augmenter)
    assert collator(rows)["input_values"].shape == (3, 25600)  # 2.0 s at 1.25x speed
    evaluation = collator.eval()
    plain = SERDataCollator(feature_extractor)(rows)
    torch.testing.assert_close(evaluation(rows)["input_values"], plain["input_values"])


def test_spec_augment_masks_in_training_only_and_reproducibly():
    features = torch.randn(3, 50, 20)
    mask = torch.ones(3, 50, dtype=torch.bool)
    mask[1, 30:] = False
    spec = SpecAugment(
        num_freq_masks=2, freq_mask_width=5, num_time_masks=2, time_mask_width=10, seed=0
    ).train()
    out = spec(features, mask)
    masked = out == 0
    assert masked.any()
    assert not torch.equal(out, features)
    assert torch.equal(out[~masked], features[~masked])
    assert features.abs().min() > 0  # masks only zero values
    assert not masked[1, 30:].all(dim=-1).any()  # time masks stay inside row 1's 30 real frames
    again = SpecAugment(
        num_freq_masks=2, freq_mask_width=5, num_time_masks=2, time_mask_width=10, seed=0
    ).train()
    assert torch.equal(again(features, mask), out)
    assert spec.eval()(features) is features
    with pytest.raises(ValueError, match="expects \\(batch, frames, features\\)"):
        spec.train()(torch.zeros(2, 3))
