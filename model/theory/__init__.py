"""Bargaining theory's exact answers (Nash, Kalai-Smorodinsky, Rubinstein, Zeuthen, the compromise model),
computed on a compiled ``model.core.Problem`` for the tests to compare the engine with. Above the core:
it imports ``model.core``, never the reverse."""
