"""The protocols a scenario can choose (``protocol.kind``), each played round by round by the
Mesa model (``model.negotiation.Negotiation``). docs/protocols.md gives each one's rules.

- ``package``: multilateral alternating offers of full packages (the grand bargain).
- ``incremental``: step-by-step tranches, delivered with each actor's reliability, under trust.
- ``framework``: a package agreed first, then implemented in phases under the same trust rules.
- ``mediated``: a mediator's single negotiating text, revised from the parties' objections.
- ``eum``: the expected-utility model's forecast of where positions move, issue by issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from model.negotiation import Negotiation


class Protocol:
    """One protocol's rules for a round. Subclasses set ``name`` and implement ``round``."""

    name: ClassVar[str] = ""
    #: whether the talks cannot start without a package inside every party's red lines
    needs_zone: ClassVar[bool] = True

    def __init__(self, model: Negotiation) -> None:
        self.model = model

    def round(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def make_protocol(kind: str, model: Negotiation) -> Protocol:
    from model.protocols.eum import EUMProtocol
    from model.protocols.framework import FrameworkProtocol
    from model.protocols.incremental import IncrementalProtocol
    from model.protocols.mediated import MediatedProtocol
    from model.protocols.package import PackageProtocol

    kinds = (PackageProtocol, IncrementalProtocol, FrameworkProtocol, MediatedProtocol, EUMProtocol)
    table: dict[str, type[Protocol]] = {cls.name: cls for cls in kinds}
    return table[kind](model)
