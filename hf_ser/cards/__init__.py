"""Model cards for hf_ser runs: card data (:class:`SERCardData`), a Trainer callback that fills it
(:class:`SERModelCardCallback`) and rendering / offline validation with huggingface_hub's `ModelCard`."""

from .callback import SERModelCardCallback
from .card_data import ResultRow, SERCardData
from .render import (
    ModelCardValidationError,
    build_model_card_data,
    load_template,
    model_card_problems,
    render_model_card,
    save_model_card,
    validate_model_card,
)
from .run import card_data_from_run

__all__ = [
    "ModelCardValidationError",
    "ResultRow",
    "SERCardData",
    "SERModelCardCallback",
    "build_model_card_data",
    "card_data_from_run",
    "load_template",
    "model_card_problems",
    "render_model_card",
    "save_model_card",
    "validate_model_card",
]
