"""Analysis in separate processes: the pool, spectra, and bounded streams between processes.

Threads share one GIL, so CPU-heavy work (FFT) runs in worker processes; only numpy data
crosses, through shared memory or a queue bounded in bytes.
"""

from .pool import AnalysisPool
from .spectrum import Spectrum, power_spectrum

__all__ = ["AnalysisPool", "Spectrum", "power_spectrum"]
