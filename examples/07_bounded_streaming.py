"""A fast producer, a slow consumer, and memory that stays bounded.

The stream counts the bytes in flight; a producer that would exceed the capacity
blocks (nothing lost) or, in drop mode, drops the frame and counts it. A consumer
process appends the frames to a growing .npy file, so an acquisition can run
longer than RAM allows.
"""

import multiprocessing
import pathlib
import tempfile
import time

import numpy as np

from labrun.analysis.stream import BoundedStream, npy_shape, write_stream

FRAME = (256, 1024)  # 2 MiB of float64 per frame: a camera image, a digitizer record


def slow_reader(stream: BoundedStream, delay: float) -> None:
    while stream.get() is not None:
        time.sleep(delay)


def main() -> None:
    spawn = multiprocessing.get_context("spawn")
    frame = np.ones(FRAME)
    path = pathlib.Path(tempfile.mkdtemp(prefix="labrun-example-")) / "frames.npy"

    # blocking mode: the producer waits for the disk writer; every frame arrives
    stream = BoundedStream(8 * frame.nbytes, mode="block")  # 16 MiB in flight at most
    writer = spawn.Process(target=write_stream, args=(stream, path))
    writer.start()
    most = 0
    for i in range(40):  # 80 MiB through a 16 MiB stream
        stream.put(frame * i, timeout=30)
        most = max(most, stream.in_flight)
    stream.close()
    writer.join(30)
    mib = 2**20
    print(f"block: sent {stream.sent} frames, at most {most / mib:.0f} MiB in flight", end=" ")
    print(f"(capacity {stream.capacity / mib:.0f} MiB)")
    last = np.load(path, mmap_mode="r")[-1, 0, 0]
    print(f"       {path.name}: shape {npy_shape(path)}, last frame = {last:.0f}")

    # drop mode: a reader too slow to keep up; what does not fit is dropped and counted
    stream = BoundedStream(4 * frame.nbytes, mode="drop")
    reader = spawn.Process(target=slow_reader, args=(stream, 0.02))
    reader.start()
    accepted = sum(stream.put(frame) for _ in range(100))
    stream.close()
    reader.join(30)
    print(f"drop:  accepted {accepted}, dropped {stream.dropped}, of 100 sent")


if __name__ == "__main__":  # needed: the consumers are spawned processes
    main()
