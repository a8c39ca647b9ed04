"""A stream of numpy frames between processes whose memory is bounded in bytes.

Why: a plain ``multiprocessing.Queue`` has no bound in bytes; a producer faster than
its consumer (a camera, a digitizer) fills RAM with pickled frames waiting in the
feeder thread. Here every frame is counted from ``put`` until a consumer has taken it;
a producer that would exceed ``capacity`` bytes blocks (``mode="block"``, nothing is
lost) or drops the frame and counts it (``mode="drop"``).
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import pathlib
import queue
from multiprocessing.context import BaseContext
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Mode = Literal["block", "drop"]
_END = "end-of-stream"


class BoundedStream:
    """Frames from producers to consumers, at most ``capacity`` bytes in flight.

    Pass it to ``Process(args=...)``; call ``close(consumers=k)`` when done so that
    each of ``k`` consumers' ``get()`` returns None.
    """

    def __init__(self, capacity: int, *, mode: Mode = "block", context: BaseContext | None = None) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0 bytes, got {capacity}")
        if mode not in ("block", "drop"):
            raise ValueError(f"mode must be 'block' or 'drop', got {mode!r}")
        ctx = context or multiprocessing.get_context("spawn")
        self.capacity = capacity
        self.mode = mode
        self._queue: Any = ctx.Queue()
        self._space = ctx.Condition()
        self._in_flight: Any = ctx.Value("q", 0, lock=False)  # guarded by _space
        self._dropped: Any = ctx.Value("q", 0, lock=False)
        self._sent: Any = ctx.Value("q", 0, lock=False)

    def put(self, frame: npt.NDArray[Any], timeout: float | None = None) -> bool:
        """Send ``frame``; False if dropped (drop mode). Blocks at most ``timeout`` s."""
        size = frame.nbytes
        if size > self.capacity:
            raise ValueError(f"a {size} byte frame cannot fit a {self.capacity} byte stream")
        with self._space:
            if self._in_flight.value + size > self.capacity:
                if self.mode == "drop":
                    self._dropped.value += 1
                    return False
                if not self._space.wait_for(lambda: self._in_flight.value + size <= self.capacity, timeout):
                    raise TimeoutError(
                        f"stream full ({self._in_flight.value} of {self.capacity} bytes) for {timeout} s"
                    )
            self._in_flight.value += size
            self._sent.value += 1
        self._queue.put(frame)
        return True

    def get(self, timeout: float | None = None) -> npt.NDArray[Any] | None:
        """The next frame, or None once the stream is closed. Frees its bytes."""
        try:
            frame = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no frame within {timeout} s") from None
        if isinstance(frame, str) and frame == _END:
            return None
        with self._space:
            self._in_flight.value -= frame.nbytes
            self._space.notify_all()
        return frame  # type: ignore[no-any-return]

    def close(self, consumers: int = 1) -> None:
        """End of stream for each of ``consumers``."""
        for _ in range(consumers):
            self._queue.put(_END)

    @property
    def in_flight(self) -> int:
        return int(self._in_flight.value)

    @property
    def dropped(self) -> int:
        return int(self._dropped.value)

    @property
    def sent(self) -> int:
        return int(self._sent.value)


class NpyWriter:
    """Append frames of one shape and dtype to a ``.npy`` file of growing length.

    The header is written at a fixed size first and rewritten with the final count on
    ``close()``; until then the file holds whole frames after a valid header, so an
    acquisition can run longer than RAM allows.
    """

    HEADER = 256  # bytes, a multiple of 64 as the format asks

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)
        self._fp = open(self.path, "xb")  # noqa: SIM115 - lives until close()
        self._frame: tuple[tuple[int, ...], np.dtype[Any]] | None = None
        self.frames = 0
        self._fp.write(b"\0" * self.HEADER)

    def append(self, frame: npt.NDArray[Any]) -> None:
        data = np.ascontiguousarray(frame)
        if self._frame is None:
            self._frame = (data.shape, data.dtype)
        elif (data.shape, data.dtype) != self._frame:
            raise ValueError(f"frame {data.shape} {data.dtype} differs from the first {self._frame}")
        self._fp.write(data.tobytes())
        self.frames += 1

    def close(self) -> None:
        if self._fp.closed:
            return
        shape, dtype = self._frame or ((), np.dtype(np.float64))
        header = {
            "descr": np.lib.format.dtype_to_descr(dtype),
            "fortran_order": False,
            "shape": (self.frames, *shape),
        }
        text = repr(header).encode("latin1")
        room = self.HEADER - 10
        if len(text) + 1 > room:
            raise ValueError(f"header too long for {self.path}")
        self._fp.seek(0)
        self._fp.write(b"\x93NUMPY\x01\x00" + room.to_bytes(2, "little") + text.ljust(room - 1) + b"\n")
        self._fp.close()

    def __enter__(self) -> NpyWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_stream(stream: BoundedStream, path: str | os.PathLike[str]) -> int:
    """Consumer: every frame of ``stream`` into a ``.npy`` file until it is closed."""
    with NpyWriter(path) as writer:
        while (frame := stream.get()) is not None:
            writer.append(frame)
        return writer.frames


def npy_shape(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """The shape a ``.npy`` header declares (reads only the header)."""
    with open(path, "rb") as fp:
        fp.seek(10)
        return tuple(ast.literal_eval(fp.read(NpyWriter.HEADER - 10).decode("latin1").strip())["shape"])
