"""The protocols a scenario can choose (``protocol.kind``), each played round by round by the
Mesa model (``model.negotiation.Negotiation``). docs/protocols.md gives each one's rules;
``model.protocols.base`` the contract every protocol keeps.

- ``package``: multilateral alternating offers of full packages (the grand bargain).
- ``incremental``: step-by-step tranches, delivered with each actor's reliability, under trust.
- ``framework``: a package agreed first, then implemented in phases under the same trust rules.
- ``mediated``: a mediator's single negotiating text, revised from the parties' objections.
- ``eum``: the expected-utility model's forecast of where positions move, issue by issue.
- ``sequence``: phases played one after another (an interim deal, then the main talks), each
  under its own protocol, each starting from what the ones before delivered.

This module is the registry: adding a protocol is writing its module (a ``Protocol`` subclass
with its ``Params``) and listing it here, in ``PROTOCOLS`` and in ``ProtocolSpec``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.protocols.base import (
    ACCEPTED,
    AGREED_REASONS,
    Event,
    EventKind,
    Outcome,
    OutcomeReason,
    Protocol,
    ProtocolParams,
    Response,
    ResponseReason,
)
from model.protocols.eum import EUMParams, EUMProtocol
from model.protocols.framework import FrameworkParams, FrameworkProtocol
from model.protocols.incremental import IncrementalParams, IncrementalProtocol
from model.protocols.mediated import MediatedParams, MediatedProtocol
from model.protocols.package import PackageParams, PackageProtocol
from model.protocols.sequence import SequenceParams, SequenceProtocol

if TYPE_CHECKING:
    from model.negotiation import Negotiation

#: Every protocol, by ``protocol.kind``.
PROTOCOLS: dict[str, type[Protocol]] = {
    cls.name: cls for cls in (PackageProtocol, IncrementalProtocol, FrameworkProtocol, MediatedProtocol, EUMProtocol,
                              SequenceProtocol)
}

#: A scenario's ``protocol:`` mapping: one protocol's parameters, told apart by ``kind``.
ProtocolSpec = PackageParams | IncrementalParams | FrameworkParams | MediatedParams | EUMParams | SequenceParams

#: The default kind (a ``protocol:`` mapping without ``kind``).
DEFAULT_KIND = "package"


def make_protocol(model: Negotiation, params: ProtocolParams) -> Protocol:
    """The protocol ``params`` are for (by their ``kind``), playing ``model``."""
    return PROTOCOLS[params.kind](model, params)


__all__ = [
    "ACCEPTED", "AGREED_REASONS", "DEFAULT_KIND", "PROTOCOLS", "Event", "EventKind", "Outcome", "OutcomeReason",
    "Protocol", "ProtocolParams", "ProtocolSpec", "Response", "ResponseReason", "make_protocol",
]
