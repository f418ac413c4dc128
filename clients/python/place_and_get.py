"""tierbook's smallest Python client: places one resting limit order, reads it back by its
order id, then repeats the client_order_id with other content and decodes the refusal's
google.rpc.ErrorInfo from grpc-status-details-bin. The stubs in clients/python/gen are
generated from proto/ by grpcio-tools (clients/python/generate.sh). The test suite runs it
against a real stack through nginx (test/ops/python-client.test.ts).

The API key is read from TIERBOOK_API_KEY (never an argument: arguments show in `ps`).

    TIERBOOK_API_KEY=... .tools/python/bin/python clients/python/place_and_get.py --target 127.0.0.1:50051
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "gen"))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from google.rpc import status_pb2  # noqa: E402  (our proto/google/rpc/status.proto, ErrorInfo included)
from tierbook.v1 import order_service_pb2 as orders_pb  # noqa: E402
from tierbook.v1 import order_service_pb2_grpc as orders_grpc  # noqa: E402
from tierbook.v1 import types_pb2  # noqa: E402


def error_info(err: grpc.RpcError):
    """The ErrorInfo tierbook puts in a refusal's grpc-status-details-bin, or None."""
    trailers = dict(err.trailing_metadata() or ())
    raw = trailers.get("grpc-status-details-bin")
    if raw is None:
        return None
    status = status_pb2.Status.FromString(raw)
    for detail in status.details:
        info = status_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    return None


def describe(err: grpc.RpcError) -> str:
    info = error_info(err)
    reason = info.reason if info else ""
    domain = info.domain if info else ""
    metadata = ",".join(f"{k}={v}" for k, v in sorted(info.metadata.items())) if info else ""
    return f"code={err.code().name} reason={reason} domain={domain} metadata={{{metadata}}} message={err.details()!r}"


def fail(what: str, err: grpc.RpcError | None = None) -> None:
    print(f"error: {what}: {describe(err)}" if err else f"error: {what}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="127.0.0.1:50051", help="host:port of nginx or of a gateway process")
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--price-ticks", type=int, default=1_800_000)
    parser.add_argument("--quantity-lots", type=int, default=1)
    parser.add_argument("--client-order-id", default=f"py-{time.time_ns()}")
    parser.add_argument("--timeout", type=float, default=10.0, help="deadline of each call, seconds")
    args = parser.parse_args()

    key = os.environ.get("TIERBOOK_API_KEY")
    if not key:
        fail("TIERBOOK_API_KEY is not set")
    auth = [("authorization", f"Bearer {key}")]

    with grpc.insecure_channel(args.target) as channel:
        orders = orders_grpc.OrderServiceStub(channel)
        request = orders_pb.PlaceOrderRequest(
            symbol=args.symbol,
            side=types_pb2.SIDE_BUY,
            type=types_pb2.ORDER_TYPE_LIMIT,
            time_in_force=types_pb2.TIME_IN_FORCE_GTC,
            price_ticks=args.price_ticks,
            quantity_lots=args.quantity_lots,
            client_order_id=args.client_order_id,
        )
        try:
            placed = orders.PlaceOrder(request, metadata=auth, timeout=args.timeout)
        except grpc.RpcError as err:
            fail("PlaceOrder failed", err)
        print("placed:", json_format.MessageToJson(placed, indent=None))

        try:
            got = orders.GetOrder(orders_pb.GetOrderRequest(order_id=placed.order.order_id), metadata=auth, timeout=args.timeout)
        except grpc.RpcError as err:
            fail("GetOrder failed", err)
        print("got:", json_format.MessageToJson(got, indent=None))

        p, g = placed.order, got.order
        if (g.order_id, g.client_order_id, g.symbol, g.quantity_lots, g.price_ticks) != (
            p.order_id, args.client_order_id, args.symbol, args.quantity_lots, args.price_ticks
        ):
            fail(f"the order read back differs from the one placed: {g} vs {p}")
        status = types_pb2.OrderStatus.Name(g.status)
        print(f"ok: order {g.order_id} ({args.client_order_id}) placed and read back, status {status}")

        # The same idempotency key with other content: refused, and nothing changes.
        request.quantity_lots += 1
        try:
            orders.PlaceOrder(request, metadata=auth, timeout=args.timeout)
        except grpc.RpcError as err:
            print(f"refused: {describe(err)}")
        else:
            fail("a reused client_order_id with other content was accepted")


if __name__ == "__main__":
    main()
