"""One raw unary gRPC call with Python's grpcio; prints the outcome as one JSON line.

Used by test/ops/nginx-answers.test.ts to see tierbook's answers (nginx's own ones included)
the way a Python service sees them, with the raw bytes the test framed (no stubs), so the
ErrorInfo in grpc-status-details-bin is passed on as base64 for the caller to decode
(place_and_get.py decodes it with the generated stubs). grpcio is from the venv .tools/python
that scripts/setup.sh creates.

    .tools/python/bin/python clients/python/raw_call.py HOST:PORT /tierbook.v1.OrderService/GetOrder HEX [API_KEY]
"""
import base64
import json
import sys

import grpc


def main() -> None:
    target, path, request_hex = sys.argv[1:4]
    api_key = sys.argv[4] if len(sys.argv) > 4 else None
    metadata = [("authorization", f"Bearer {api_key}")] if api_key else []
    with grpc.insecure_channel(target) as channel:
        # No serializers: bytes in, bytes out, exactly what the caller framed.
        call = channel.unary_unary(path)
        try:
            reply = call(bytes.fromhex(request_hex), metadata=metadata, timeout=10)
            print(json.dumps({"code": "OK", "reply_hex": reply.hex()}))
        except grpc.RpcError as err:
            trailers = dict(err.trailing_metadata() or ())
            details_bin = trailers.get("grpc-status-details-bin")
            print(json.dumps({
                "code": err.code().name,
                "message": err.details(),
                "details_bin": base64.b64encode(details_bin).decode() if details_bin else None,
            }))


if __name__ == "__main__":
    main()
