"""Label a corpus at scale: ``hf_ser.label`` / ``hf-ser label`` (one module per job).

- :mod:`.sources`: folders, manifests, saved datasets, Hub streams -> items sorted by id;
- :mod:`.sharding`: fixed-size shards, shard ``k`` to process ``k % num_processes``;
- :mod:`.decoding`: DataLoader workers decode whole shards;
- :mod:`.table`: pipeline results -> rows with a fixed Arrow schema;
- :mod:`.writing`: atomic shard files + markers (resume, exactly once);
- :mod:`.progress`: per-process bars, aggregate line, summary;
- :mod:`.run`: :func:`label`, the run;
- :mod:`.reading`: the shards back as teacher targets for distillation.
"""

from .progress import LabelSummary
from .run import label

__all__ = ["LabelSummary", "label"]
