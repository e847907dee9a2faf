"""SER model: SSL backbone -> layer mix -> seq2seq (optional) -> masked pooling -> heads (+ CTC head).

:class:`SERModelForAudioClassification` behaves like any transformers audio classifier (Auto classes,
``pipeline("audio-classification")``, Trainer, ``save_pretrained``/``from_pretrained``) and adds what SER
needs: attention/statistics pooling that ignores padding, regression and multitask heads, CCC/focal losses
and a learned layer mix. This package only imports torch, transformers and its siblings (relative imports)
so ``save_pretrained`` can ship it next to the weights for ``trust_remote_code=True``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional, Union

import torch
from torch import nn
from transformers import AutoConfig, PreTrainedModel
from transformers import initialization as init

from .backbone import (
    BACKBONE_TYPES,
    build_backbone,
    frame_mask,
    freeze_feature_encoder,
    load_pretrained_backbone,
    set_requires_grad,
)
from .configuration_ser import SERConfig
from .ctc_decoding import greedy_transcripts
from .docstrings import add_forward_docstring
from .heads import CTCHead, SERHeadsMixin
from .layer_mix import LayerMix
from .losses import ctc_loss
from .masked_feature_encoder import feature_encoder_mask, use_masked_feature_encoder
from .outputs import SERModelOutput
from .pooling import build_pooling
from .seq2seq import Seq2SeqEncoder
from .streaming import SERStreamState, init_ser_stream_state, ser_stream_step
from .text_fusion import TextFusion, build_text_backbone, load_pretrained_text_backbone, text_hidden_size
from .weight_init import init_linear_


class SERPreTrainedModel(PreTrainedModel):
    """Base class: config class, weight init and the transformers capability flags of the family."""

    config_class = SERConfig
    config: SERConfig
    base_model_prefix = "ser"
    main_input_name = "input_values"
    input_modalities = "audio"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    # The losses are means over the batch: Trainer must scale them for gradient accumulation itself
    # (and not pass `num_items_in_batch`, which `**kwargs` in `forward` would otherwise advertise).
    accepts_loss_kwargs = False

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, initializer_range) linear weights, zero biases, uniform layer-mix weights."""
        if isinstance(module, LayerMix):
            if module.layer_weights is not None:
                init.constant_(module.layer_weights, 1.0 / module.num_layers)
        elif isinstance(module, nn.Linear):
            init_linear_(module, self.config.initializer_range)
        else:
            super()._init_weights(module)


class SERModelForAudioClassification(SERHeadsMixin, SERPreTrainedModel):
    """SSL backbone (wav2vec2 / HuBERT / WavLM) with SER pooling and classification / regression heads.

    Padding contract: pass the feature extractor's ``attention_mask``; every pooling then ignores padded
    frames, so a clip padded inside a batch gives the same outputs as the clip alone. This holds for all
    backbones: those with ``feat_extract_norm="layer"`` (wav2vec2-large, XLS-R, HuBERT-large, WavLM)
    normalise each frame on its own, and those with ``feat_extract_norm="group"`` (wav2vec2-base,
    HuBERT-base, distilhubert) run a masked feature encoder (:mod:`.masked_feature_encoder`, same weights)
    whose first group norm sees each clip's real samples only.

    Multitask emotion + CTC (Cai et al., 2021): with ``config.ctc_vocab`` (or ``ctc_vocab_size``) the model
    has a ``ctc_head`` (dropout + linear) on the backbone's *last hidden state*, before layer mix, seq2seq
    and pooling. That is where Cai et al. put it and it keeps the emotion path emotion-specific: the
    character task trains the shared transformer, while the learned layer mix (which may favour middle
    layers), the seq2seq encoder and the pooling get only the emotion loss. ``ctc_logits`` are returned for
    every forward; passing ``ctc_labels`` adds ``config.ctc_alpha * CTC`` to ``loss``.

    Text as a second input (paper 000): with ``config.text_backbone`` the model holds a ``text_backbone``
    (any transformers text encoder, frozen by default) and a ``text_fusion`` module; ``forward`` then takes
    ``text_input_ids`` / ``text_attention_mask`` (from :class:`hf_ser.SERProcessor`) and fuses the projected
    token states with the frames after the layer mix (``"concat"``: one audio + text sequence for seq2seq
    and pooling; ``"cross_attention"``: frames attend to tokens), see :mod:`.text_fusion`. The CTC head
    still reads audio only. Audio-only models have neither module (their state dict is unchanged).

    Example:

    ```python
    >>> import numpy as np
    >>> from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor
    >>> from hf_ser import SERConfig, SERModelForAudioClassification
    >>> backbone = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
    ...                           intermediate_size=37, conv_dim=(32, 32), conv_kernel=(10, 3),
    ...                           conv_stride=(5, 2), num_conv_pos_embeddings=16,
    ...                           num_conv_pos_embedding_groups=2, feat_extract_norm="layer")
    >>> model = SERModelForAudioClassification(SERConfig(
    ...     backbone_config=backbone, id2label={0: "anger", 1: "neutral"}, pooling="attentive_stats")).eval()
    >>> extractor = Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True)
    >>> clips = [np.zeros(8000, np.float32), np.zeros(16000, np.float32)]
    >>> inputs = extractor(clips, sampling_rate=16000, padding=True, return_attention_mask=True,
    ...                    return_tensors="pt")
    >>> model(**inputs).logits.shape
    torch.Size([2, 2])

    ```
    """

    def __init__(self, config: SERConfig) -> None:
        super().__init__(config)
        self.backbone = build_backbone(config.backbone_config)
        self.layer_mix = LayerMix(config.layer_weighting, config.backbone_config.num_hidden_layers + 1)
        self.seq2seq = self._build_seq2seq(config)
        self.pooling = build_pooling(
            config.pooling, config.hidden_size, config.pooling_attention_size, config.pooling_heads
        )
        self._build_heads(
            self.pooling.output_size, config.classifier_dropout, config.projector_size, config.head_activation
        )
        self.ctc_head = (
            CTCHead(config.hidden_size, config.ctc_vocab_size, config.classifier_dropout)
            if config.has_ctc_head
            else None
        )
        if config.has_text_backbone:  # attributes only when used: audio-only state dicts stay as they were
            self.text_backbone = build_text_backbone(config.text_backbone)
            self.text_fusion = TextFusion(
                config.text_fusion,
                text_hidden_size(config.text_backbone),
                config.hidden_size,
                config.seq2seq_heads,
            )
        self.post_init()
        self.apply_freezing()

    @staticmethod
    def _build_seq2seq(config: SERConfig) -> Optional[Seq2SeqEncoder]:
        if config.seq2seq is None:
            return None
        encoder = Seq2SeqEncoder(
            config.seq2seq,
            hidden_size=config.hidden_size,
            num_heads=config.seq2seq_heads,
            num_layers=config.seq2seq_layers,
            bidirectional=config.seq2seq_bidirectional,
        )
        # The encoder initialises its own mechanism-specific parameters (decays, gates): keep them.
        for module in encoder.modules():
            module._is_hf_initialized = True
        return encoder

    # ----------------------------------------------------------------------------------------------
    # Freezing
    # ----------------------------------------------------------------------------------------------
    def apply_freezing(self) -> None:
        """Apply ``config.freeze_backbone`` / ``config.freeze_feature_encoder`` (called at construction)."""
        if self.config.freeze_backbone:
            self.freeze_backbone()
        elif self.config.freeze_feature_encoder:
            self.freeze_feature_encoder()
        if self.config.has_text_backbone and self.config.freeze_text_backbone:
            self.freeze_text_backbone()

    def freeze_text_backbone(self) -> None:
        """Stop gradients through the text encoder and keep it in eval mode (recorded in the config)."""
        self.config.freeze_text_backbone = True
        set_requires_grad(self.text_backbone, False)
        self.text_backbone.eval()

    def freeze_feature_encoder(self) -> None:
        """Stop gradients through the backbone's convolutional feature encoder (recorded in the config)."""
        self.config.freeze_feature_encoder = True
        freeze_feature_encoder(self.backbone)

    def freeze_backbone(self) -> None:
        """Stop gradients through the whole backbone; layer mix, seq2seq, pooling and heads stay trainable.

        A frozen backbone also stays in eval mode during training (no dropout, no SpecAugment masking):
        it only extracts features. Recorded in the config, so it survives ``save_pretrained``.
        """
        self.config.freeze_backbone = True
        set_requires_grad(self.backbone, False)
        self.backbone.eval()

    def unfreeze_backbone(self, keep_feature_encoder_frozen: bool = True) -> None:
        """Make the backbone trainable again (the feature encoder stays frozen unless asked otherwise)."""
        self.config.freeze_backbone = False
        self.config.freeze_feature_encoder = keep_feature_encoder_frozen
        set_requires_grad(self.backbone, True)
        self.backbone.feature_extractor._requires_grad = True
        if keep_feature_encoder_frozen:
            self.freeze_feature_encoder()
        self.backbone.train(self.training)

    def train(self, mode: bool = True) -> SERModelForAudioClassification:
        """Set training mode; a frozen backbone (``config.freeze_backbone``) stays in eval mode."""
        super().train(mode)
        if self.config.freeze_backbone:
            self.backbone.eval()
        if self.config.has_text_backbone and self.config.freeze_text_backbone:
            self.text_backbone.eval()
        return self

    # ----------------------------------------------------------------------------------------------
    # Construction from a pretrained backbone
    # ----------------------------------------------------------------------------------------------
    @classmethod
    def from_backbone(
        cls,
        pretrained_model_name_or_path: Union[str, os.PathLike],
        backbone_config_kwargs: Optional[dict[str, Any]] = None,
        backbone_kwargs: Optional[dict[str, Any]] = None,
        **config_kwargs: Any,
    ) -> SERModelForAudioClassification:
        """New SER model on a pretrained SSL backbone: backbone weights via ``from_pretrained``, fresh heads.

        Args:
            pretrained_model_name_or_path: Hub id or directory of a wav2vec2 / HuBERT / WavLM checkpoint
                (base model or any head model of those families, e.g. ``"facebook/wav2vec2-base"``).
            backbone_config_kwargs: overrides of the backbone config (e.g. ``{"layerdrop": 0.0,
                "mask_time_prob": 0.05}``).
            backbone_kwargs: extra backbone ``from_pretrained`` arguments (``revision``, ``dtype``...).
            **config_kwargs: :class:`SERConfig` options (``pooling``, ``task``, ``id2label``...). A
                ``text_backbone`` given as a model id gets its pretrained weights here too.

        Example: ``SERModelForAudioClassification.from_backbone("facebook/wav2vec2-base",
        pooling="attentive_stats", id2label={0: "anger", 1: "happiness", 2: "neutral", 3: "sadness"})``.
        """
        backbone_config = AutoConfig.from_pretrained(
            pretrained_model_name_or_path, **(backbone_config_kwargs or {})
        )
        if backbone_config.model_type not in BACKBONE_TYPES:
            raise ValueError(
                f"{pretrained_model_name_or_path} is a {backbone_config.model_type!r} checkpoint; "
                "from_backbone needs "
                f"one of {', '.join(BACKBONE_TYPES)}. For a trained hf_ser checkpoint use from_pretrained."
            )
        config = SERConfig(backbone_config=backbone_config, **config_kwargs)
        model = cls(config)
        model.backbone = load_pretrained_backbone(
            pretrained_model_name_or_path, config=config.backbone_config, **(backbone_kwargs or {})
        )
        model.config.backbone_config = model.backbone.config
        if config.text_backbone_name_or_path is not None:
            model.text_backbone = load_pretrained_text_backbone(
                config.text_backbone_name_or_path, config=config.text_backbone
            )
            model.config.text_backbone = model.text_backbone.config
        model.apply_freezing()
        return model

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: Union[str, os.PathLike, None], *model_args: Any, **kwargs: Any
    ) -> SERModelForAudioClassification:
        """Load a trained hf_ser checkpoint (a bare backbone checkpoint raises an error showing
        ``from_backbone``)."""
        config_file = os.path.join(str(pretrained_model_name_or_path), "config.json")
        if kwargs.get("config") is None and os.path.isfile(config_file):
            with open(config_file, encoding="utf-8") as handle:
                model_type = json.load(handle).get("model_type")
            if model_type in BACKBONE_TYPES:
                raise ValueError(
                    f"{pretrained_model_name_or_path} is a bare {model_type} checkpoint, not an hf_ser "
                    "model. Use SERModelForAudioClassification.from_backbone("
                    f"{str(pretrained_model_name_or_path)!r}, id2label=..., pooling=...) for new SER heads "
                    "on it, or hf_ser.convert_checkpoint(...) for a trained *ForSequenceClassification / "
                    "audEERING checkpoint."
                )
        model = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        # Loading replaces parameters (and their requires_grad flags): re-apply the configured freezing.
        loaded = model[0] if isinstance(model, tuple) else model
        loaded.apply_freezing()
        return model

    # ----------------------------------------------------------------------------------------------
    # Forward
    # ----------------------------------------------------------------------------------------------
    @add_forward_docstring
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        regression_labels: Optional[torch.Tensor] = None,
        ctc_labels: Optional[torch.Tensor] = None,
        text_input_ids: Optional[torch.Tensor] = None,
        text_attention_mask: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        **kwargs: Any,
    ) -> Union[SERModelOutput, tuple]:
        r"""Classify / score a batch of waveforms.

        Args:
            input_values (`torch.FloatTensor` of shape `(batch, samples)`):
                16 kHz waveforms, normalised and right-padded by `Wav2Vec2FeatureExtractor`.
            attention_mask (`torch.LongTensor` of shape `(batch, samples)`, *optional*):
                1 for real samples, 0 for padding. Always pass it for padded batches.
            {labels_args}
            ctc_labels (`torch.LongTensor` of shape `(batch, characters)`, *optional*):
                Character ids of the transcripts for the CTC head, right-padded with -100 (a row of only
                -100 = no transcript, left out of the CTC loss). Needs `config.ctc_vocab_size`.
            text_input_ids (`torch.LongTensor` of shape `(batch, tokens)`, *optional*):
                Token ids of each clip's transcript for the text encoder (`config.text_backbone`), from the
                model's tokenizer (`SERProcessor(..., text=...)` returns them under this name). `None` = no
                transcript: the audio-only path.
            text_attention_mask (`torch.LongTensor` of shape `(batch, tokens)`, *optional*):
                1 for real tokens, 0 for padding (all ones when not given). A row of zeros = no transcript.
            output_attentions (`bool`, *optional*): return backbone attentions (needs eager attention).
            output_hidden_states (`bool`, *optional*): return all backbone hidden states.
            {return_dict_arg}

        Returns:
            `SERModelOutput` with `loss`, `logits`, `regression`, `pooled`, `frame_weights`, `hidden_states`,
            `attentions`, `ctc_logits`.
        """
        config = self.config
        return_dict = config.return_dict if return_dict is None else return_dict
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        output_attentions = bool(output_attentions)
        labels, regression_labels = self._route_labels(labels, regression_labels)
        self._check_ctc_labels(ctc_labels, input_values.shape[0])

        backbone_outputs, hidden, mask = self.frame_features(
            input_values, attention_mask, bool(output_hidden_states), output_attentions
        )
        ctc_logits = self.ctc_head(backbone_outputs.last_hidden_state) if self.ctc_head is not None else None
        hidden, fused_mask = self.fuse_text(hidden, mask, text_input_ids, text_attention_mask)
        if self.seq2seq is not None:
            hidden = self.seq2seq(hidden, attention_mask=fused_mask)
        pooling_output = self.pooling(hidden, fused_mask if config.mask_pooling else None)
        pooled = pooling_output.pooled

        _, regression, logits, loss = self._apply_heads(pooled, labels, regression_labels)
        if ctc_labels is not None:
            frame_lengths = (
                mask.sum(-1)
                if mask is not None
                else torch.full((ctc_logits.shape[0],), ctc_logits.shape[1], device=ctc_logits.device)
            )
            ctc_term = config.ctc_alpha * ctc_loss(
                ctc_logits, frame_lengths, ctc_labels.to(ctc_logits.device), config.ctc_blank_id
            )
            loss = ctc_term if loss is None else loss + ctc_term

        output = SERModelOutput(
            loss=loss,
            logits=logits,
            regression=regression,
            pooled=pooled,
            frame_weights=pooling_output.weights,
            hidden_states=backbone_outputs.hidden_states if output_hidden_states else None,
            attentions=backbone_outputs.attentions if output_attentions else None,
            ctc_logits=ctc_logits,
        )
        return output if return_dict else output.to_tuple()

    def frame_features(
        self,
        input_values: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> tuple[Any, torch.Tensor, Optional[torch.Tensor]]:
        """Backbone -> layer mix: ``(backbone_outputs, frames, frame_mask)``, the input of seq2seq and
        pooling (shared by :meth:`forward` and streaming).

        The sample mask also reaches a group-norm feature encoder (:mod:`.masked_feature_encoder`), which
        is installed here too in case ``self.backbone`` was replaced by a stock transformers model.
        """
        use_masked_feature_encoder(self.backbone)
        with feature_encoder_mask(attention_mask):
            backbone_outputs = self.backbone(
                input_values,
                attention_mask=attention_mask,
                output_hidden_states=output_hidden_states or self.layer_mix.needs_all_hidden_states,
                output_attentions=output_attentions,
                return_dict=True,
            )
        hidden = self.layer_mix(backbone_outputs.last_hidden_state, backbone_outputs.hidden_states)
        return backbone_outputs, hidden, frame_mask(self.backbone, attention_mask, hidden.shape[1])

    def fuse_text(
        self,
        frames: torch.Tensor,
        mask: Optional[torch.Tensor],
        text_input_ids: Optional[torch.Tensor],
        text_attention_mask: Optional[torch.Tensor],
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Fuse the transcript's token states with the audio frames (:mod:`.text_fusion`); return the
        frames and frame mask the seq2seq module and the pooling run over. Without text: the audio-only
        path (for a text model the same as a transcript whose tokens are all masked)."""
        if text_input_ids is None:
            audio_only = self.text_fusion.audio_only if self.config.has_text_backbone else None
            return (frames, mask) if audio_only is None else audio_only(frames, mask)
        if not self.config.has_text_backbone:
            raise ValueError(
                "text_input_ids were given but the model has no text encoder: build it with "
                "SERConfig(text_backbone=<text encoder config or model id>)."
            )
        if text_attention_mask is None:
            text_attention_mask = torch.ones_like(text_input_ids)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze_text_backbone):
            text_states = self.text_backbone(
                input_ids=text_input_ids, attention_mask=text_attention_mask, return_dict=True
            ).last_hidden_state
        return self.text_fusion(frames, mask, text_states, text_attention_mask)

    @torch.no_grad()
    def transcribe_ctc(
        self, input_values: torch.Tensor, attention_mask: Optional[torch.Tensor] = None
    ) -> list[str]:
        """Greedy transcripts of the CTC head (vocabulary ``config.ctc_vocab``), one per clip.

        Runs only the backbone and the CTC head. The pipeline's ``text="ctc"`` feeds them to a model with
        text as a second input when a clip has no transcript.
        """
        if self.ctc_head is None or not self.config.ctc_vocab:
            raise ValueError(
                "transcribe_ctc needs a CTC head with its character vocabulary: build the model with "
                "SERConfig(ctc_vocab=[...])."
            )
        backbone_outputs, _, mask = self.frame_features(input_values, attention_mask)
        logits = self.ctc_head(backbone_outputs.last_hidden_state)
        return greedy_transcripts(logits, mask, self.config.ctc_vocab, self.config.ctc_blank_id)

    # ----------------------------------------------------------------------------------------------
    # Streaming (causal linear or no seq2seq; see hf_ser.models.streaming)
    # ----------------------------------------------------------------------------------------------
    def init_stream_state(self, batch_size: int = 1) -> SERStreamState:
        """Empty streaming state for ``batch_size`` streams; raises a `ValueError` saying why when the
        model cannot stream (bidirectional seq2seq, ``softmax`` / ``forgetting`` attention)."""
        return init_ser_stream_state(self, batch_size)

    def stream_step(
        self,
        input_values: torch.Tensor,
        state: Optional[SERStreamState] = None,
        attention_mask: Optional[torch.Tensor] = None,
    ) -> tuple[SERModelOutput, SERStreamState]:
        """Feed the next audio piece of each stream; return the running prediction and the new state.

        The backbone sees each piece on its own (it is not streamable, as with the pipeline's chunking);
        seq2seq and pooling carry their state across pieces, so after pieces ``p_1..p_n`` the logits equal
        one pass of seq2seq, pooling and heads over the backbone frames of all pieces concatenated.
        See :func:`hf_ser.models.streaming.ser_stream_step`.

        Example (with ``model`` and ``extractor`` as in the class docstring, built with
        ``seq2seq="gla", seq2seq_bidirectional=False``): ``state = None``, then for each piece
        ``out, state = model.stream_step(extractor(piece, sampling_rate=16000,
        return_tensors="pt").input_values, state)``; ``out.logits`` is the running prediction.
        """
        return ser_stream_step(self, input_values, state, attention_mask)

    def _check_ctc_labels(self, ctc_labels: Optional[torch.Tensor], batch_size: int) -> None:
        """Reject ``ctc_labels`` the CTC head cannot use (no head, wrong shape, ids outside the vocab)."""
        if ctc_labels is None:
            return
        if self.ctc_head is None:
            raise ValueError(
                "ctc_labels were given but the model has no CTC head: build it with "
                "SERConfig(ctc_vocab=[...]) (or ctc_vocab_size=N)."
            )
        if ctc_labels.dim() != 2 or ctc_labels.shape[0] != batch_size or ctc_labels.is_floating_point():
            raise ValueError(
                f"ctc_labels must be an integer tensor of shape (batch={batch_size}, characters) padded with "
                f"-100, got {ctc_labels.dtype} {tuple(ctc_labels.shape)}."
            )
        real = ctc_labels[ctc_labels >= 0]
        if real.numel() and (
            int(real.max()) >= self.config.ctc_vocab_size or bool((real == self.config.ctc_blank_id).any())
        ):
            raise ValueError(
                f"ctc_labels must be character ids in [0, {self.config.ctc_vocab_size}) other than the blank "
                f"({self.config.ctc_blank_id}), or -100 for padding; got values {sorted(set(real.tolist()))}."
            )
