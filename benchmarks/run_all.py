"""`make bench`: the throughput benchmark at full size (meant for a GPU; see benchmarks/README.md)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import throughput  # noqa: E402

throughput.main(sys.argv[1:])
