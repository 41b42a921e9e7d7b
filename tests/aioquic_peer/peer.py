"""An independent media-link peer on aioquic: join a session, upload one photo, print its verdict.

Written from proto/fieldlens/v1/media.proto alone (its own protobuf encoder and decoder,
no generated code), so it checks the hub's endpoint against a second QUIC and TLS stack:

1. connect with ALPN fieldlens/1 and check that the server certificate's SHA-256 is the
   pinned one (aioquic cannot pin, so verification is off and the fingerprint is
   compared before anything is sent);
2. open the control stream (kind byte 1) and present the session token in a hello;
3. read the welcome;
4. open a photo upload stream (kind byte 2): start with size and SHA-256, read the
   resume offset, send the bytes in chunks, read acks until complete;
5. read control messages until the photo's verdict (or an error for it) arrives.

With --from-start the upload is a first attempt: the start says from_start and the bytes
follow at once, before the resume reply is read. With --stop-after N it sends only the
first N bytes, waits for the hub to acknowledge some of them as durable, and drops the
connection; run it again with the same upload id to resume from the hub's durable offset.

Prints one JSON object per line on stdout: {"event": "welcome", ...},
{"event": "resume", ...}, {"event": "complete", ...}, {"event": "verdict", ...}, or
{"event": "closed", "code": ..., "reason": ...} when the hub closes the connection.
Exit code 0 when a verdict arrived (or the upload stopped as asked), 2 when the hub closed the connection or refused the upload, 3 when the
certificate is not the pinned one, 1 for anything else.

Usage: peer.py --endpoint HOST:PORT --sha256 HEX --session ID --token TOKEN
               --photo FILE --step STEP [--upload-id ID] [--chunk BYTES] [--stop-after BYTES]
               [--from-start]
"""

import argparse
import asyncio
import hashlib
import json
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamDataReceived, StreamReset
from cryptography.hazmat.primitives.serialization import Encoding

ALPN = "fieldlens/1"
KIND_CONTROL = 1
KIND_PHOTO_UPLOAD = 2
MAX_MESSAGE = 1 << 20


# --- protobuf wire format (just what media.proto needs) -------------------------------


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value) if value else b""


def field_bytes(number, value):
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def read_varint(data, pos):
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def decode(data):
    """Fields of a message: {number: [value, ...]}; varints as int, the rest as bytes."""
    fields, pos = {}, 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 2:
            length, pos = read_varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wire} not used by media.proto")
        fields.setdefault(number, []).append(value)
    return fields


def first(fields, number, default=None):
    return fields.get(number, [default])[0]


def text(fields, number):
    return bytes(first(fields, number, b"")).decode()


def framed(message):
    return varint(len(message)) + message


# --- the connection ---------------------------------------------------------------


class Peer(QuicConnectionProtocol):
    """Collects stream bytes and splits them into length-prefixed messages."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffers = {}
        self.messages = {}
        self.wakeup = asyncio.Event()
        self.closed = None
        self.resets = {}

    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived):
            buffer = self.buffers.setdefault(event.stream_id, bytearray())
            buffer.extend(event.data)
            queue = self.messages.setdefault(event.stream_id, [])
            while buffer:
                try:
                    length, pos = read_varint(buffer, 0)
                except ValueError:
                    break
                if length > MAX_MESSAGE:
                    raise ValueError(f"message of {length} bytes on stream {event.stream_id}")
                if len(buffer) < pos + length:
                    break
                queue.append(bytes(buffer[pos : pos + length]))
                del buffer[: pos + length]
        elif isinstance(event, StreamReset):
            self.resets[event.stream_id] = event.error_code
        elif isinstance(event, ConnectionTerminated):
            self.closed = (event.error_code, event.reason_phrase)
        self.wakeup.set()

    def open_stream(self, kind, first_message):
        stream_id = self._quic.get_next_available_stream_id(is_unidirectional=False)
        self.send(stream_id, bytes([kind]) + framed(first_message))
        return stream_id

    def send(self, stream_id, data, end=False):
        self._quic.send_stream_data(stream_id, data, end_stream=end)
        self.transmit()

    async def next_message(self, stream_id, timeout):
        """The next message on a stream; raises Closed if the connection ends first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            queue = self.messages.get(stream_id)
            if queue:
                return queue.pop(0)
            if self.closed is not None:
                raise Closed(*self.closed)
            if stream_id in self.resets:
                raise Reset(self.resets[stream_id])
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no message on stream {stream_id} within {timeout} s")
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                pass


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed with code {code}: {reason}")
        self.code, self.reason = code, reason


class Reset(Exception):
    def __init__(self, code):
        super().__init__(f"stream reset with code {code}")
        self.code = code


class Stopped(Exception):
    def __init__(self, sent, acked):
        super().__init__(f"stopped after {sent} bytes, {acked} acknowledged")
        self.sent, self.acked = sent, acked


class PinMismatch(Exception):
    pass


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def report_fields(report):
    issues = [decode(issue) for issue in report.get(2, [])]
    return {
        "verdict": {1: "accept", 2: "retake"}.get(first(report, 1, 0), "unspecified"),
        "reasons": [text(issue, 1) for issue in issues],
        "sha256": text(report, 7),
    }


async def run(args):
    photo = open(args.photo, "rb").read()
    sha256 = hashlib.sha256(photo).hexdigest()
    host, _, port = args.endpoint.rpartition(":")
    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=[ALPN], server_name="localhost", verify_mode=ssl.CERT_NONE
    )
    async with connect(
        host.strip("[]"), int(port), configuration=configuration, create_protocol=Peer
    ) as peer:
        certificate = peer._quic.tls._peer_certificate
        actual = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
        if actual != args.sha256:
            peer.close()
            raise PinMismatch(f"server certificate sha256 {actual} is not the pinned {args.sha256}")

        hello = field_bytes(1, field_bytes(1, args.token) + field_bytes(2, args.session)
                            + field_bytes(3, "aioquic-peer/1"))
        control = peer.open_stream(KIND_CONTROL, hello)
        welcome = first(decode(await peer.next_message(control, args.timeout)), 2)
        if welcome is None:
            raise ValueError("the hub's first control message is not a welcome")
        welcome = decode(welcome)
        limits = decode(first(welcome, 5, b""))
        max_chunk = min(args.chunk, first(limits, 2, 262144))
        emit("welcome", session_id=text(welcome, 1), role=first(welcome, 2, 0),
             participant_id=text(welcome, 3), max_chunk_bytes=max_chunk)

        try:
            await upload_photo(peer, args, photo, sha256, max_chunk)
        except Stopped as stopped:
            emit("stopped", sent=stopped.sent, acked=stopped.acked)
            peer.close()
            return 0
        except Reset as reset:
            emit("upload_reset", code=reset.code)

        while True:
            message = decode(await peer.next_message(control, args.timeout))
            if 6 in message:
                verdict = decode(first(message, 6))
                if text(verdict, 1) == args.upload_id:
                    report = decode(first(verdict, 3, b""))
                    emit("verdict", upload_id=args.upload_id, step_id=text(verdict, 2),
                         **report_fields(report))
                    break
            elif 10 in message:
                error = decode(first(message, 10))
                emit("error", code=first(error, 1, 0), message=text(error, 2),
                     upload_id=text(error, 3))
                return 2
        bye = field_bytes(9, field_bytes(1, "peer done"))
        peer.send(control, framed(bye))
        try:
            await peer.next_message(control, 5)
        except Closed as closed:
            emit("closed", code=closed.code, reason=closed.reason)
    return 0


async def upload_photo(peer, args, photo, sha256, max_chunk):
    """Runs one upload stream until the hub says the photo is stored and verified."""
    start = field_bytes(1, args.upload_id) + field_bytes(2, args.step) \
        + field_varint(3, len(photo)) + field_bytes(4, sha256)
    if args.from_start:
        start += field_varint(5, 1)
    upload = peer.open_stream(KIND_PHOTO_UPLOAD, field_bytes(1, start))

    async def resume_offset():
        resume = decode(await peer.next_message(upload, args.timeout))
        if 1 not in resume:
            raise ValueError("the hub's first upload reply is not a resume")
        offset = first(decode(first(resume, 1)), 1, 0)
        emit("resume", durable_offset=offset)
        return offset

    # A first attempt sends from byte 0 at once; a retry first asks where to go on.
    offset = 0 if args.from_start else await resume_offset()
    end = len(photo) if args.stop_after is None else min(len(photo), args.stop_after)
    sent = 0
    while offset < end:
        data = photo[offset : offset + max_chunk]
        chunk = field_varint(1, offset) + field_bytes(2, data)
        offset += len(data)
        sent += len(data)
        peer.send(upload, framed(field_bytes(2, chunk)), end=offset == len(photo))
    if args.from_start:
        await resume_offset()
    acked = 0
    while True:
        reply = decode(await peer.next_message(upload, args.timeout))
        if 2 in reply:
            acked = first(decode(first(reply, 2)), 1, 0)
            if args.stop_after is not None:
                raise Stopped(sent, acked)
        elif 3 in reply:
            complete = decode(first(reply, 3))
            emit("complete", size=first(complete, 1, 0), sha256=text(complete, 2), acked=acked,
                 sent=sent)
            return


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--sha256", required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--photo", required=True)
    parser.add_argument("--step", required=True)
    parser.add_argument("--upload-id", default="aioquic-1")
    parser.add_argument("--chunk", type=int, default=64 * 1024)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--stop-after", type=int, default=None)
    parser.add_argument("--from-start", action="store_true",
                        help="a first attempt: send from byte 0 without waiting for the resume reply")
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except Closed as closed:
        emit("closed", code=closed.code, reason=closed.reason)
        return 2
    except PinMismatch as mismatch:
        emit("pin_mismatch", message=str(mismatch))
        return 3
    except Exception as error:  # noqa: BLE001 - the test wants one line saying why
        emit("failed", message=f"{type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
