"""The processor WITH THE FAKE BENCH EMBEDDER (bench only): `faust -A bench.hash_processor worker`.

Everything else is the real processor (agents, PostgreSQL, Qdrant, topics); only the embedder
is the labelled stand-in of bench/embedder.py, handed over through `Resources.embedder`.
"""

from bench.embedder import BenchHashEmbedder
from services.processor import app
from services.processor.agents import resources

resources.embedder = BenchHashEmbedder()

__all__ = ["app"]
