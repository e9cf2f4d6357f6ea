"""grand-bargain: agent-based simulation of multi-party negotiations over linked issues."""

__version__ = "0.1.0"
