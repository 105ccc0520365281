#!/usr/bin/env python3
"""Writes the seed corpus in seeds/: venue replies for reply_decoder, order pushes (whole, and
their `data` alone) for push_decoder, server frame streams for frame_decoder. Run from
anywhere; the output is deterministic, so rerunning changes nothing. The record_reader seeds are
written by tests/tls_record_reader.rs and left alone.

A frame_decoder input is one config byte (bits 0-1: limits preset, bit 2: push instead of
spare_mut/commit, bits 3-5: chunk size scale), four chunk sizes, then the stream.
"""

import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
SEEDS = HERE / "seeds"

# Replies captured from the live venue or printed in its documentation.
CAPTURED = [
    b'{"event":"trade","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376695893517410304"}}],"code":0,"msg":"Success","ts":1763958928351}',
    b'{"event":"error","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"12345"}}],"code":43001,"msg":"The order does not exist","ts":1763958366418}',
    b'{"event":"trade","arg":[{"id":"1","instType":"USDT-FUTURES","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376999173366317057"}}],"code":0,"msg":"Success","ts":1764129519844}',
    b'{"event":"error","arg":[{"id":"1","instType":"USDT-FUTURES","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1234"}}],"code":41101,"msg":"Param orderId=1234 error","ts":1764129464757}',
    b'{"event":"error","code":30006,"msg":"request too many"}',
    b'{"event":"login","code":0,"msg":""}',
    b'{"event":"error","code":30015,"msg":"Invalid sign"}',
]

# The tolerant readings the decoder accepts, and the edges around them.
VARIANTS = [
    b"pong",
    b" pong\r\n",
    b'{"event":"login","code":"0","msg":null}',
    b'{"event":"trade","arg":{"id":"c-42","instType":"SPOT"},"code":"43001"}',
    b'{"event":"error","arg":[{"id":"a\\u0062c"}],"code":30016,"msg":"Param \\"orderId\\" error \\u00e9\\n\\ud83e\\udd80"}',
    b'{"event":"error","arg":[],"code":-1,"msg":"\xe8\xae\xa2\xe5\x8d\x95"}',
    b'{"event":"subscribe","arg":{"instType":"SPOT","channel":"orders","instId":"default"}}',
    b'{"event":"login","code":9223372036854775807}',
    b'{"event":"login","code":-9223372036854775808}',
    b'{"event":"login","code":1.5e3}',
    b'[[[[{"event":"trade"}]]]]',
]


# Pushes on the private orders channel: the live venue's shape and the readings around it.
PUSHES = [
    b'{"action":"snapshot","arg":{"instType":"USDT-FUTURES","channel":"orders","instId":"default"},"data":[{"accBaseVolume":"0","cTime":"1742560160311","cancelReason":"","clientOid":"1286956078637682690","instId":"LTCUSDT","orderId":"1286956078633488402","size":"0.2","status":"live","uTime":"1742560160311"}],"ts":1742560160318}',
    b'{"action":"snapshot","arg":{"instType":"USDT-FUTURES","channel":"orders","instId":"default"},"data":[{"accBaseVolume":"0.05","cTime":"1742560160311","cancelReason":"normal_cancel","clientOid":"1286956078637682690","instId":"LTCUSDT","orderId":"1286956078633488402","priceAvg":"90.5","size":"0.2","status":"canceled","uTime":"1742560161000"}],"ts":1742560161002}',
    b'{"action":"snapshot","arg":{"instType":"SPOT","channel":"orders","instId":"default"},"data":[{"accBaseVolume":"1","cancelReason":"","instId":"BTCUSDT","orderId":"1376695893517410305","priceAvg":"100","status":"filled","uTime":"1742560161000"}],"ts":1742560161002}',
    b'{"action":"update","arg":{"instType":"spot","channel":"ORDERS","instId":"BTCUSDT"},"data":[{"orderId":"1","status":"cancelled","uTime":1742560161000},{"clientOid":"grid/1:#+","status":"partially_filled","accBaseVolume":"0.4","priceAvg":null}]}',
    b'{"arg":{"instType":"SPOT","channel":"orders"},"data":[]}',
]

# The `data` of a push alone (the target wraps it in an envelope).
PUSH_DATA = [
    b'[{"orderId":"1286956078633488402","clientOid":"c-1","status":"canceled","accBaseVolume":"0.2","uTime":"1742560161000"}]',
    b'[{"orderId":"1","status":"NEW"},{"clientOid":"a","status":"Filled","accBaseVolume":"00.50"}]',
    b'[{"orderId":"x1","status":"live"}]',
    b'[{"status":"live","clientOid":"has space"}]',
]


def frame(opcode, payload, fin=True, form=None):
    """One unmasked server frame; `form` forces the 16- or 64-bit length field."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if form is None:
        form = 7 if n < 126 else 16 if n <= 0xFFFF else 64
    if form == 7:
        head += bytes([n])
    elif form == 16:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def streams():
    """(name, stream) pairs of valid server traffic."""
    out = []
    for i, reply in enumerate(CAPTURED):
        out.append((f"captured_{i}", frame(0x1, reply)))
    fragmented = (
        frame(0x1, b'{"event":', fin=False)
        + frame(0x9, b"keepalive")
        + frame(0x0, b'"trade","arg":[{"id":"7"}],', fin=False)
        + frame(0xA, b"")
        + frame(0x0, b'"code":0,"msg":"\xc3', fin=False)
        + frame(0x0, b'\xa9"}')
    )
    out.append(("fragmented_with_control_frames", fragmented))
    out.append(("text_16_bit_length", frame(0x1, b'{"event":"trade","msg":"' + b"a" * 300 + b'"}')))
    out.append(("text_64_bit_length_form", frame(0x1, CAPTURED[5], form=64)))
    out.append(("binary_16_bit_length_form", frame(0x2, bytes(range(40)), form=16)))
    out.append(("ping_pong_close", frame(0x9, b"hb") + frame(0xA, b"hb") + frame(0x8, struct.pack(">H", 1000) + "bye \u2713".encode())))
    out.append(("empty_close", frame(0x8, b"")))
    out.append(("back_to_back", b"".join(frame(0x1, r) for r in CAPTURED) + fragmented))
    return out

# The unified account's (V3) replies and pushes, as documented.
V3 = [
    b'{"event":"trade","id":"1","topic":"cancel-order","args":[{"orderId":"1","clientOid":"c"}],"code":"0","msg":"Success","ts":"1756283452147"}',
    b'{"event":"trade","id":"2","topic":"cancel-order","args":[{"orderId":"1"}],"code":"0","msg":"Success","ts":"1756283452147","connId":"abc"}',
    b'{"event":"error","id":"3","code":"25204","msg":"Order does not exist"}',
    b'{"event":"error","id":"4","code":"429","msg":"Too Many Requests"}',
    b'{"event":"error","code":"30033","msg":"service upgrade"}',
    b'{"event":"subscribe","arg":{"instType":"UTA","topic":"order"}}',
    b'{"event":"error","arg":{"instType":"UTA","topic":"order"},"code":"30001","msg":"no","op":"subscribe"}',
    b'{"action":"snapshot","arg":{"instType":"UTA","topic":"order"},"data":[{"category":"usdt-futures","symbol":"BTCUSDT","orderId":"42","clientOid":"c-1","qty":"0.001","cumExecQty":"0.001","avgPrice":"83131.5","orderStatus":"filled","cancelReason":"","updatedTime":"1756283452147"}],"ts":1}',
    b'[{"category":"spot","orderId":"43","orderStatus":"canceled","updatedTime":12}]',
    b'{"event":"trade","id":"b7","topic":"batch-cancel","args":[{"orderId":"11","clientOid":"c11","code":"0","msg":"Success"},{"orderId":"12","code":"25204","msg":"Order does not exist"}],"code":"0","msg":"Success","ts":"1"}',
]


def main():
    replies = SEEDS / "reply_decoder"
    frames = SEEDS / "frame_decoder"
    pushes = SEEDS / "push_decoder"
    v3 = SEEDS / "v3_decoder"
    for mine in (replies, frames, pushes, v3):
        if mine.exists():
            shutil.rmtree(mine)
        mine.mkdir(parents=True)
    for i, push in enumerate(PUSHES):
        (pushes / f"push_{i}").write_bytes(push)
    for i, data in enumerate(PUSH_DATA):
        (pushes / f"data_{i}").write_bytes(data)
    for i, text in enumerate(V3):
        (v3 / f"v3_{i}").write_bytes(text)
    for i, reply in enumerate(CAPTURED):
        (replies / f"captured_{i}").write_bytes(reply)
    for i, reply in enumerate(VARIANTS):
        (replies / f"variant_{i}").write_bytes(reply)
    # Each stream under a few configurations: limits preset, push or commit, chunk sizes.
    configs = [
        ("medium_commit_bytewise", 0b000_0_10, [1, 1, 1, 1]),
        ("large_push_mixed", 0b010_1_11, [0, 6, 40, 255]),
        ("small_commit_odd", 0b001_0_01, [2, 16, 99, 7]),
    ]
    for name, stream in streams():
        for config_name, config, sizes in configs:
            (frames / f"{name}.{config_name}").write_bytes(bytes([config, *sizes]) + stream)


if __name__ == "__main__":
    main()
