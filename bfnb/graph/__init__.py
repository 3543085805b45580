"""Graphs of ops: values composed with ``|``, wired with ``wire``, run by the executor."""

from .graph import Edge, Graph, Node

__all__ = ["Edge", "Graph", "Node"]
