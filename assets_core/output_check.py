"""How closely a plan looks at the stored outputs its records point at: it trusts the records, stats
each output, or re-hashes each one. Every output a step reads is hash-verified whatever a plan chose."""

from __future__ import annotations

import enum


class OutputCheck(enum.StrEnum):
    """What observing the store does for each recorded output (``Workspace.plan``, ``VersionStore.observe``).

    ``TRUST`` does no I/O per output: a deleted output still plans FRESH, so only ``lakeplan plan
    --trust-records`` (which builds nothing, and was asked to) uses it; everything else uses ``EXISTS``."""

    TRUST = "trust"  # the records alone (lakeplan plan --trust-records)
    EXISTS = "exists"  # one stat per output: a deleted one is MISSING (the default)
    HASH = "hash"  # re-hash each output against its data version: a corrupted one is MISSING too (--verify)
