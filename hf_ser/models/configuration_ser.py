"""Configuration of :class:`~.modeling_ser.SERModelForAudioClassification`.

The config is the spec of an hf_ser model: which self-supervised backbone (stored as a nested
wav2vec2 / HuBERT / WavLM config), how its layers are mixed, how frames are pooled, which task and
heads sit on top and which losses train them. Every option is validated here, so a bad value fails
when the config is built, naming the value and the allowed ones.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .backbone import BACKBONE_TYPES
from .configuration_base import DEFAULT_REGRESSION_TARGETS, SERHeadConfig, check_choice
from .heads import HEAD_ACTIVATIONS
from .pooling import POOLING_TYPES
from .seq2seq import SEQ2SEQ_MECHANISMS
from .text_fusion import TEXT_FUSIONS

LAYER_WEIGHTINGS = ("last", "weighted")

# DEFAULT_REGRESSION_TARGETS is re-exported (hf_ser.models.convert imports it from here).
__all__ = ["DEFAULT_REGRESSION_TARGETS", "LAYER_WEIGHTINGS", "SERConfig"]


class SERConfig(SERHeadConfig):
    r"""Configuration for :class:`SERModelForAudioClassification`: SSL backbone -> layer mix ->
    optional seq2seq encoder -> masked pooling -> classification and/or regression heads, plus an optional
    CTC character head on the backbone's frames and an optional text encoder fused with the frames.

    Args:
        backbone_config (`dict` or `PreTrainedConfig`, *optional*):
            Config of the self-supervised backbone; `model_type` must be one of `wav2vec2`, `hubert`,
            `wavlm`. Defaults to a `Wav2Vec2Config()` (wav2vec2-base sized).
        task, regression_targets, classification_loss, class_weights, focal_gamma, regression_loss,
        regression_loss_weights, multitask_weight:
            The head options shared by the whole family, documented and validated in
            :class:`~.configuration_base.SERHeadConfig` (default task `"classification"`, needs `id2label` or
            `num_labels`; default regression targets `["arousal", "dominance", "valence"]`).
        pooling (`str`, *optional*, defaults to `"attentive_stats"`):
            Utterance pooling: `"mean"`, `"attentive_stats"` (attention-weighted mean || std),
            `"soft_attention"` (alpha = softmax(v^T tanh(W h))) or `"multihead_attention"`.
            Every pooling ignores padded frames.
        pooling_attention_size (`int`, *optional*, defaults to 128):
            Size of `W` in the attention poolings; `None` gives the projection-free `e_t = u^T h_t` scorer.
        pooling_heads (`int`, *optional*, defaults to 4):
            Number of heads of `"multihead_attention"` pooling.
        mask_pooling (`bool`, *optional*, defaults to `True`):
            Pool only real frames (padding ignored, so batched = single). `False` pools over every frame,
            padding included: the behaviour of the audEERING A/D/V checkpoints (plain `mean(dim=1)`), which
            `hf_ser.convert_checkpoint` keeps so converted outputs equal the original's. Set it back to
            `True` for batch-invariant results.
        layer_weighting (`str`, *optional*, defaults to `"last"`):
            `"last"` uses the backbone's last hidden state; `"weighted"` learns a softmax-weighted sum of
            all hidden states (embeddings + every layer); emotion cues sit in the middle layers.
        seq2seq (`str`, *optional*):
            Mechanism of an optional sequence encoder between layer mix and pooling, one of
            `"none"` (per-frame projections only, the ablation), `"softmax"`, `"retention"`, `"gla"`,
            `"forgetting"`, `"delta"`, `"lightnet"`, `"gsa"`, `"kda"` (see `hf_ser.models.seq2seq`). `None`
            (default): no encoder.
        seq2seq_layers (`int`, *optional*, defaults to 2):
            Number of seq2seq encoder layers.
        seq2seq_heads (`int`, *optional*, defaults to 4):
            Number of heads of the seq2seq encoder.
        seq2seq_bidirectional (`bool`, *optional*, defaults to `True`):
            Whole-clip context in the seq2seq encoder. `False` builds a causal encoder: with a linear
            mechanism (`"retention"`, `"gla"`, `"delta"`, `"lightnet"`, `"gsa"`, `"kda"`) or `"none"` the
            model can then stream
            (`model.stream_step`, `pipe.stream`, see `hf_ser.models.streaming`).
        projector_size (`int`, *optional*, defaults to 256):
            Width of the dense layer of each head (`dense -> activation -> dropout -> out_proj`); `None`
            gives a single linear layer on the pooled vector.
        head_activation (`str`, *optional*, defaults to `"tanh"`):
            Activation after the head's dense layer: `"tanh"`, `"relu"`, `"gelu"` or `"identity"`.
        classifier_dropout (`float`, *optional*, defaults to 0.1):
            Dropout on the pooled vector and after the head's dense layer.
        freeze_feature_encoder (`bool`, *optional*, defaults to `True`):
            Keep the backbone's convolutional feature encoder frozen (standard practice when fine-tuning).
        freeze_backbone (`bool`, *optional*, defaults to `False`):
            Freeze the whole backbone: only layer mix, seq2seq, pooling and heads are trained.
        ctc_vocab (`list[str]`, *optional*):
            Character vocabulary of the auxiliary CTC head (multitask emotion + CTC, Cai et al., 2021), saved
            in `config.json` so a checkpoint carries its own vocabulary. Index `ctc_blank_id` is the CTC
            blank. Setting it sets `ctc_vocab_size`. `None` (default): no vocabulary.
        ctc_vocab_size (`int`, *optional*):
            Size of the CTC head's output (blank included). `None` (default) = no CTC head. Derived from
            `ctc_vocab` when that is given (the two must agree); set it alone for a head whose labels come
            from your own tokeniser. The head (dropout `classifier_dropout` + linear) reads the backbone's
            last hidden state, before layer mix, seq2seq and pooling.
        ctc_alpha (`float`, *optional*, defaults to 0.1):
            Weight of the CTC loss: `loss = emotion loss + ctc_alpha * CTC loss` when `ctc_labels` are passed.
            The default 0.1 (also the `ctc_multitask` recipe's) keeps CTC an auxiliary signal: much larger
            weights let the character task dominate the shared backbone.
        ctc_blank_id (`int`, *optional*, defaults to 0):
            Index of the CTC blank token.
        text_backbone (`str`, `dict` or `PreTrainedConfig`, *optional*):
            A text encoder as second input (paper 000): the config of any transformers text encoder
            (built with `AutoModel`; a dict needs `model_type`) or a model id / directory, whose config is
            read here and whose weights `SERModelForAudioClassification.from_backbone` loads (the plain
            constructor builds random weights, as for the speech backbone). Stored as the encoder's config;
            the weights are saved with the model. `None` (default): audio only. The model then takes
            `text_input_ids` / `text_attention_mask` (see `SERProcessor`).
        text_backbone_name_or_path (`str`, *optional*):
            The model id `text_backbone` was given as (set from it; tells `from_backbone` what to load).
        text_fusion (`str`, *optional*, defaults to `"concat"`):
            How text meets audio: `"concat"` (audio frames and text tokens, each with a learned modality
            embedding, form one sequence for the seq2seq module and the pooling) or `"cross_attention"`
            (the audio frames attend to the text tokens in one attention block with residual, `seq2seq_heads`
            heads, before the seq2seq module). See `hf_ser.models.text_fusion`.
        freeze_text_backbone (`bool`, *optional*, defaults to `True`):
            Keep the text encoder frozen (and in eval mode): a fixed feature extractor, as in paper 000.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialiser of the head weights.

    Example:

    ```python
    >>> from transformers import Wav2Vec2Config
    >>> from hf_ser import SERConfig
    >>> config = SERConfig(
    ...     backbone_config=Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
    ...                                    intermediate_size=37, conv_dim=(32, 32), conv_kernel=(10, 3),
    ...                                    conv_stride=(5, 2)),
    ...     id2label={0: "anger", 1: "neutral"}, pooling="mean")
    >>> config.num_labels, config.hidden_size
    (2, 32)

    ```
    """

    model_type = "hf_ser"
    sub_configs_defaults = {"backbone_config": SubConfigSpec(config_class=AutoConfig, model_type="wav2vec2")}

    backbone_config: Union[dict, PreTrainedConfig, None] = None
    pooling: str = "attentive_stats"
    pooling_attention_size: Optional[int] = 128
    pooling_heads: int = 4
    mask_pooling: bool = True
    layer_weighting: str = "last"
    seq2seq: Optional[str] = None
    seq2seq_layers: int = 2
    seq2seq_heads: int = 4
    seq2seq_bidirectional: bool = True
    projector_size: Optional[int] = 256
    head_activation: str = "tanh"
    freeze_feature_encoder: bool = True
    freeze_backbone: bool = False
    ctc_vocab: Optional[list[str]] = None
    ctc_vocab_size: Optional[int] = None
    ctc_alpha: Union[float, int] = 0.1
    ctc_blank_id: int = 0
    text_backbone: Union[str, dict, PreTrainedConfig, None] = None
    text_backbone_name_or_path: Optional[str] = None
    text_fusion: str = "concat"
    freeze_text_backbone: bool = True
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs: Any) -> None:
        self.backbone_config = self._build_backbone_config(self.backbone_config)
        self._build_text_backbone_config()
        labels_given = self._labels_given(kwargs)
        super().__post_init__(**kwargs)
        self._validate_choices()
        self._validate_head_options(labels_given)
        self._validate_ctc()

    @staticmethod
    def _build_backbone_config(backbone_config: Union[dict, PreTrainedConfig, None]) -> PreTrainedConfig:
        """Turn the nested backbone config (dict, config or None) into a validated config object."""
        if backbone_config is None:
            backbone_config = {"model_type": "wav2vec2"}
        if isinstance(backbone_config, dict):
            model_type = backbone_config.get("model_type")
            check_choice("backbone model_type", model_type, BACKBONE_TYPES)
            fields = {key: value for key, value in backbone_config.items() if key != "model_type"}
            backbone_config = CONFIG_MAPPING[model_type].from_dict(fields)
        if not isinstance(backbone_config, PreTrainedConfig):
            raise ValueError(
                f"backbone_config must be a dict or a PreTrainedConfig, got {type(backbone_config).__name__}."
            )
        check_choice("backbone model_type", backbone_config.model_type, BACKBONE_TYPES)
        return backbone_config

    def _build_text_backbone_config(self) -> None:
        """Turn ``text_backbone`` (model id, dict or config) into a config; remember a model id."""
        text_backbone = self.text_backbone
        if isinstance(text_backbone, (str, os.PathLike)):
            self.text_backbone_name_or_path = os.fspath(text_backbone)
            text_backbone = AutoConfig.from_pretrained(self.text_backbone_name_or_path)
        if isinstance(text_backbone, dict):
            if text_backbone.get("model_type") not in CONFIG_MAPPING:
                raise ValueError(
                    "text_backbone as a dict needs the `model_type` of a transformers text encoder, got "
                    f"{text_backbone.get('model_type')!r}."
                )
            fields = {key: value for key, value in text_backbone.items() if key != "model_type"}
            text_backbone = CONFIG_MAPPING[text_backbone["model_type"]].from_dict(fields)
        if text_backbone is not None and not isinstance(text_backbone, PreTrainedConfig):
            raise ValueError(
                "text_backbone must be None, a model id, a dict or a PreTrainedConfig, got "
                f"{type(text_backbone).__name__}."
            )
        self.text_backbone = text_backbone

    def _validate_choices(self) -> None:
        check_choice("pooling", self.pooling, POOLING_TYPES)
        check_choice("text_fusion", self.text_fusion, TEXT_FUSIONS)
        check_choice("layer_weighting", self.layer_weighting, LAYER_WEIGHTINGS)
        check_choice("head_activation", self.head_activation, HEAD_ACTIVATIONS)
        if self.seq2seq is not None:
            check_choice("seq2seq mechanism", self.seq2seq, SEQ2SEQ_MECHANISMS)
        cross_attention = self.has_text_backbone and self.text_fusion == "cross_attention"
        uses_heads = self.seq2seq is not None or cross_attention
        if uses_heads and self.hidden_size % self.seq2seq_heads:
            raise ValueError(
                f"seq2seq_heads ({self.seq2seq_heads}) must divide the backbone hidden size "
                f"({self.hidden_size})."
            )
        for name in ("pooling_heads", "seq2seq_layers", "seq2seq_heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        for name in ("projector_size", "pooling_attention_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be None or >= 1, got {value}.")

    def _validate_ctc(self) -> None:
        if self.ctc_vocab is not None:
            tokens = list(self.ctc_vocab)
            if not all(isinstance(token, str) and token for token in tokens):
                raise ValueError(f"ctc_vocab must be a list of non-empty strings, got {self.ctc_vocab!r}.")
            if len(set(tokens)) != len(tokens):
                duplicates = sorted({token for token in tokens if tokens.count(token) > 1})
                raise ValueError(f"ctc_vocab tokens must be unique; repeated: {duplicates}.")
            if self.ctc_vocab_size is not None and self.ctc_vocab_size != len(tokens):
                raise ValueError(
                    f"ctc_vocab_size={self.ctc_vocab_size} but ctc_vocab has {len(tokens)} tokens; "
                    "give only ctc_vocab (the size follows from it)."
                )
            self.ctc_vocab = tokens
            self.ctc_vocab_size = len(tokens)
        if self.ctc_vocab_size is not None:
            if self.ctc_vocab_size < 2:
                raise ValueError(
                    f"ctc_vocab_size must be None (no CTC head) or >= 2 (blank + characters), "
                    f"got {self.ctc_vocab_size}."
                )
            if not 0 <= self.ctc_blank_id < self.ctc_vocab_size:
                raise ValueError(
                    f"ctc_blank_id must be in [0, {self.ctc_vocab_size}) (the CTC vocabulary), "
                    f"got {self.ctc_blank_id}."
                )
        if self.ctc_alpha < 0:
            raise ValueError(f"ctc_alpha must be >= 0, got {self.ctc_alpha}.")

    def to_diff_dict(self) -> dict[str, Any]:
        """Like transformers', but a classifier always keeps its ``id2label`` / ``label2id``: transformers
        drops the default 2-label map (``LABEL_0``, ``LABEL_1``), and a config without labels is refused."""
        diff = super().to_diff_dict()
        if self.task != "regression":
            full = self.to_dict()
            diff["id2label"], diff["label2id"] = full["id2label"], full["label2id"]
        return diff

    @property
    def has_ctc_head(self) -> bool:
        """Whether the model has the auxiliary CTC character head (``ctc_vocab_size`` is set)."""
        return self.ctc_vocab_size is not None

    @property
    def has_text_backbone(self) -> bool:
        """Whether the model takes text as a second input (``text_backbone`` is set)."""
        return self.text_backbone is not None

    @property
    def hidden_size(self) -> int:
        """Hidden size of the backbone (the frame feature size seen by layer mix and pooling)."""
        return self.backbone_config.hidden_size
