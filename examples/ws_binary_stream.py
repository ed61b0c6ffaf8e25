"""Binary streaming: the reference's "Binary data streaming" and "Binary data handling" examples.

``/ws/stream`` sends a file in 64 KiB binary messages (the file is generated at startup: 320 KiB of a known
pattern, in the temporary directory unless ``WS_STREAM_FILE`` names one). ``/ws/data`` answers every binary
message with the processed (reversed) bytes. Run it from this directory (``gobstopper run
ws_binary_stream:app``, ``uvicorn ws_binary_stream:app``...).
"""

from __future__ import annotations

import os
import tempfile

from gobstopper import Gobstopper

app = Gobstopper(__name__)

LARGE_FILE = os.environ.get("WS_STREAM_FILE") or os.path.join(tempfile.gettempdir(), "gobstopper-large_file.bin")
PATTERN = bytes(range(256)) * 1280  # 320 KiB: five 64 KiB messages


@app.on_startup
def make_large_file() -> None:
    if not os.path.exists(LARGE_FILE) or os.path.getsize(LARGE_FILE) != len(PATTERN):
        tmp = f"{LARGE_FILE}.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(PATTERN)
        os.replace(tmp, LARGE_FILE)  # atomic: concurrent workers never see half a file


@app.websocket("/ws/stream")
async def stream_handler(websocket):
    await websocket.accept()
    # Stream large binary data in chunks
    with open(LARGE_FILE, "rb") as f:
        while chunk := f.read(65536):
            await websocket.send_bytes(chunk)


def process_binary_data(data: bytes) -> bytes:
    return data[::-1]


@app.websocket("/ws/data")
async def data_handler(websocket):
    await websocket.accept()
    async for message in websocket.receive_iter():
        if message.type == "bytes":
            processed = process_binary_data(message.data)
            await websocket.send_bytes(processed)
