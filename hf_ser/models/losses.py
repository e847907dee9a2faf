"""Training objectives of the SER heads.

Classification: cross-entropy (``"ce"``), class-weighted cross-entropy (``"weighted_ce"``, for
imbalanced corpora) and focal cross-entropy (``"focal"``, Lin et al. 2017, gamma = 2 in SER papers).
Regression: ``"ccc"`` = 1 - concordance correlation coefficient averaged over targets (the MSP-Podcast
challenge objective), ``"mse"`` and ``"ccc+mse"``. Multitask combines both with one weight.
Auxiliary: :func:`ctc_loss`, the character CTC loss of the optional CTC head (multitask emotion + CTC,
Cai et al., 2021), added to the emotion loss with weight ``ctc_alpha``.

Conventions: class labels equal to ``-100`` are ignored (as in transformers); regression labels that are
NaN are ignored per target, so a batch can mix clips with and without dimensional annotations; CTC labels
are right-padded with ``-100`` and a row without any character (no transcript) is left out of the CTC loss.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F  # noqa: N812

CLASSIFICATION_LOSSES = ("ce", "weighted_ce", "focal")
REGRESSION_LOSSES = ("ccc", "mse", "ccc+mse")
IGNORE_INDEX = -100


def concordance_correlation(
    predictions: torch.Tensor, targets: torch.Tensor, eps: float = 1e-8
) -> torch.Tensor:
    """Concordance correlation coefficient of two 1-D tensors (population statistics).

    ``CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)``; 1 means perfect agreement.
    The differentiable twin of :func:`hf_ser.metrics.ccc` (the one numpy CCC used for metrics, bootstrap
    intervals and evaluation): ``models/`` ships as self-contained remote code and cannot import
    ``hf_ser.metrics``, so the loss keeps this copy; ``tests/test_metrics.py`` checks both agree.
    """
    pred_mean, target_mean = predictions.mean(), targets.mean()
    pred_var = ((predictions - pred_mean) ** 2).mean()
    target_var = ((targets - target_mean) ** 2).mean()
    covariance = ((predictions - pred_mean) * (targets - target_mean)).mean()
    return 2.0 * covariance / (pred_var + target_var + (pred_mean - target_mean) ** 2 + eps)


def _target_weights(num_targets: int, weights: Optional[Sequence[float]], like: torch.Tensor) -> torch.Tensor:
    if weights is None:
        return torch.full((num_targets,), 1.0 / num_targets, dtype=like.dtype, device=like.device)
    weight_tensor = torch.as_tensor(weights, dtype=like.dtype, device=like.device)
    if weight_tensor.numel() != num_targets:
        raise ValueError(f"Got {weight_tensor.numel()} target weights for {num_targets} regression targets.")
    return weight_tensor / weight_tensor.sum()


def ccc_loss(
    predictions: torch.Tensor, targets: torch.Tensor, weights: Optional[Sequence[float]] = None
) -> torch.Tensor:
    """``1 - CCC`` per target (columns of ``(batch, targets)``), weighted mean over targets.

    NaN targets are skipped.
    """
    per_target = []
    for column in range(predictions.shape[-1]):
        valid = torch.isfinite(targets[:, column])
        per_target.append(1.0 - concordance_correlation(predictions[valid, column], targets[valid, column]))
    losses = torch.stack(per_target)
    return (losses * _target_weights(losses.numel(), weights, losses)).sum()


def mse_loss(
    predictions: torch.Tensor, targets: torch.Tensor, weights: Optional[Sequence[float]] = None
) -> torch.Tensor:
    """Mean squared error per target, weighted mean over targets; NaN targets skipped."""
    per_target = []
    for column in range(predictions.shape[-1]):
        valid = torch.isfinite(targets[:, column])
        per_target.append(F.mse_loss(predictions[valid, column], targets[valid, column]))
    losses = torch.stack(per_target)
    return (losses * _target_weights(losses.numel(), weights, losses)).sum()


def focal_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    gamma: float = 2.0,
    class_weights: Optional[Sequence[float]] = None,
) -> torch.Tensor:
    """Focal cross-entropy ``-alpha_y (1 - p_y)^gamma log p_y``, mean over non-ignored labels.

    With ``gamma=0`` and no ``class_weights`` it equals cross-entropy.
    """
    valid = labels != IGNORE_INDEX
    logits, labels = logits[valid], labels[valid]
    log_probs = F.log_softmax(logits, dim=-1).gather(1, labels.unsqueeze(1)).squeeze(1)
    loss = -((1.0 - log_probs.exp()) ** gamma) * log_probs
    if class_weights is not None:
        alpha = torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)
        loss = loss * alpha[labels]
        return loss.sum() / alpha[labels].sum().clamp(min=torch.finfo(logits.dtype).tiny)
    return loss.mean()


def classification_loss(
    name: str,
    logits: torch.Tensor,
    labels: torch.Tensor,
    class_weights: Optional[Sequence[float]] = None,
    focal_gamma: float = 2.0,
) -> torch.Tensor:
    """Loss ``name`` (one of :data:`CLASSIFICATION_LOSSES`) of ``(batch, classes)`` logits and labels."""
    labels = labels.view(-1).long()
    if name == "ce":
        return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)
    if name == "weighted_ce":
        if class_weights is None:
            raise ValueError("classification_loss='weighted_ce' needs class_weights.")
        weight = torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)
        return F.cross_entropy(logits, labels, weight=weight, ignore_index=IGNORE_INDEX)
    if name == "focal":
        return focal_loss(logits, labels, gamma=focal_gamma, class_weights=class_weights)
    raise ValueError(
        f"Unknown classification_loss {name!r}; choose one of {', '.join(CLASSIFICATION_LOSSES)}."
    )


def regression_loss(
    name: str,
    predictions: torch.Tensor,
    targets: torch.Tensor,
    weights: Optional[Sequence[float]] = None,
) -> torch.Tensor:
    """Loss ``name`` (one of :data:`REGRESSION_LOSSES`) between ``(batch, targets)`` tensors."""
    if targets.shape != predictions.shape:
        raise ValueError(
            f"regression_labels must have shape {tuple(predictions.shape)} (batch, targets), "
            f"got {tuple(targets.shape)}."
        )
    targets = targets.to(predictions.dtype)
    if name == "ccc":
        return ccc_loss(predictions, targets, weights)
    if name == "mse":
        return mse_loss(predictions, targets, weights)
    if name == "ccc+mse":
        return ccc_loss(predictions, targets, weights) + mse_loss(predictions, targets, weights)
    raise ValueError(f"Unknown regression_loss {name!r}; choose one of {', '.join(REGRESSION_LOSSES)}.")


def multitask_loss(
    class_loss: Optional[torch.Tensor], reg_loss: Optional[torch.Tensor], weight: float
) -> Optional[torch.Tensor]:
    """``(1 - weight) * class_loss + weight * reg_loss``; a missing term is left out (not rescaled)."""
    if class_loss is None and reg_loss is None:
        return None
    if reg_loss is None:
        return (1.0 - weight) * class_loss
    if class_loss is None:
        return weight * reg_loss
    return (1.0 - weight) * class_loss + weight * reg_loss


def ctc_loss(
    logits: torch.Tensor, frame_lengths: torch.Tensor, ctc_labels: torch.Tensor, blank: int = 0
) -> torch.Tensor:
    """CTC loss of ``(batch, frames, vocab)`` logits against ``(batch, chars)`` labels padded with -100.

    Each row's loss is divided by its number of characters and averaged over the rows that have
    characters (``reduction="mean"`` of ``torch.nn.functional.ctc_loss``, minus rows without a transcript,
    which add 0 but stay in the graph so every parameter gets a gradient). Computed in float32;
    impossible alignments (more characters than frames) give 0 (``zero_infinity=True``).

    Args:
        logits: character logits of every frame.
        frame_lengths: ``(batch,)`` number of real (unpadded) frames per row.
        ctc_labels: character ids; ``-100`` (any negative value) = padding.
        blank: id of the CTC blank.
    """
    log_probs = F.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)
    valid = ctc_labels >= 0
    target_lengths = valid.sum(-1)
    with torch.backends.cudnn.flags(enabled=False):
        per_row = F.ctc_loss(
            log_probs,
            ctc_labels[valid],
            frame_lengths.long(),
            target_lengths,
            blank=blank,
            reduction="none",
            zero_infinity=True,
        )
    has_text = (target_lengths > 0).to(per_row.dtype)
    per_row = per_row / target_lengths.clamp(min=1).to(per_row.dtype) * has_text
    return per_row.sum() / has_text.sum().clamp(min=1.0)


def route_labels(
    task: str,
    num_regression_targets: int,
    labels: Optional[torch.Tensor],
    regression_labels: Optional[torch.Tensor],
) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Validate label tensors for ``task`` and return ``(labels, regression_labels)``.

    For ``task="regression"`` a float ``labels`` tensor (Trainer's default label name) is used as the
    regression labels; a 1-D regression tensor is accepted when there is a single target.
    """
    if task == "regression" and labels is not None:
        if not labels.is_floating_point():
            raise ValueError(
                "task='regression' expects float regression_labels of shape (batch, targets), "
                "got integer labels."
            )
        if regression_labels is not None:
            raise ValueError("task='regression': pass either labels or regression_labels, not both.")
        labels, regression_labels = None, labels
    if task == "classification" and regression_labels is not None:
        raise ValueError("task='classification' has no regression head; regression_labels must be None.")
    if regression_labels is not None and regression_labels.dim() == 1 and num_regression_targets == 1:
        regression_labels = regression_labels.unsqueeze(-1)
    return labels, regression_labels


def ser_loss(
    config: Any,
    class_logits: Optional[torch.Tensor],
    regression: Optional[torch.Tensor],
    labels: Optional[torch.Tensor],
    regression_labels: Optional[torch.Tensor],
) -> Optional[torch.Tensor]:
    """The loss of any hf_ser model given its head outputs and (routed) labels.

    ``config`` provides ``task``, ``classification_loss``, ``class_weights``, ``focal_gamma``,
    ``regression_loss``, ``regression_loss_weights`` and ``multitask_weight`` (see ``SERConfig``).
    """
    class_loss = (
        classification_loss(
            config.classification_loss, class_logits, labels, config.class_weights, config.focal_gamma
        )
        if labels is not None
        else None
    )
    reg_loss = (
        regression_loss(config.regression_loss, regression, regression_labels, config.regression_loss_weights)
        if regression_labels is not None
        else None
    )
    if config.task == "multitask":
        return multitask_loss(class_loss, reg_loss, config.multitask_weight)
    return class_loss if class_loss is not None else reg_loss
