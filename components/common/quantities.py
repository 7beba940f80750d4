"""Kubernetes quantities (CPU and memory) as numbers, for rules and budgets."""

from __future__ import annotations

import re
from decimal import Decimal

CPU = re.compile(r"^(\d+(\.\d+)?|\.\d+)m?$")
MEMORY = re.compile(r"^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?$")

_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}


def memory_bytes(value: str) -> int:
    """Bytes in a memory quantity such as 128Mi or 1G; ValueError otherwise."""
    match = MEMORY.fullmatch(value)
    if not match:
        raise ValueError(value)
    return int(Decimal(match.group(1)) * _MEMORY_FACTORS[match.group(3) or ""])


def cpu_millis(value: str) -> int:
    """Millicores in a CPU quantity such as 100m or 1.5; ValueError otherwise."""
    if not CPU.fullmatch(value):
        raise ValueError(value)
    return int(Decimal(value[:-1]) if value.endswith("m") else Decimal(value) * 1000)
