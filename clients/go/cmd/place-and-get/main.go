// Command place-and-get is tierbook's smallest Go client: it places one resting limit order
// through the gRPC API and reads it back by its order id, printing both as JSON. The test
// suite runs it against a real gateway as an interoperability check (test/ops/go-client.test.ts).
//
// The API key is read from TIERBOOK_API_KEY (never a flag: flags show in `ps`).
//
//	TIERBOOK_API_KEY=... go run ./cmd/place-and-get -target 127.0.0.1:50051
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	tierbookv1 "github.com/tierbook/tierbook/clients/go/gen/tierbook/v1"
)

func main() {
	target := flag.String("target", "127.0.0.1:50051", "host:port of nginx or of a gateway process")
	useTLS := flag.Bool("tls", false, "use TLS (system roots) instead of h2c")
	symbol := flag.String("symbol", "AAPL", "instrument symbol")
	price := flag.Int64("price-ticks", 1_800_000, "limit price in ticks")
	qty := flag.Int64("quantity-lots", 1, "quantity in lots")
	coid := flag.String("client-order-id", fmt.Sprintf("go-%d", time.Now().UnixNano()), "idempotency key of the order")
	timeout := flag.Duration("timeout", 10*time.Second, "deadline of each call")
	flag.Parse()

	key := os.Getenv("TIERBOOK_API_KEY")
	if key == "" {
		fail("TIERBOOK_API_KEY is not set", nil)
	}
	creds := insecure.NewCredentials()
	if *useTLS {
		creds = credentials.NewClientTLSFromCert(nil, "")
	}
	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(creds))
	if err != nil {
		fail("cannot create the client", err)
	}
	defer conn.Close()
	orders := tierbookv1.NewOrderServiceClient(conn)
	auth := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key), cancel
	}

	ctx, cancel := auth()
	placed, err := orders.PlaceOrder(ctx, &tierbookv1.PlaceOrderRequest{
		Symbol:        *symbol,
		Side:          tierbookv1.Side_SIDE_BUY,
		Type:          tierbookv1.OrderType_ORDER_TYPE_LIMIT,
		TimeInForce:   tierbookv1.TimeInForce_TIME_IN_FORCE_GTC,
		PriceTicks:    *price,
		QuantityLots:  *qty,
		ClientOrderId: *coid,
	})
	cancel()
	if err != nil {
		fail("PlaceOrder failed", err)
	}
	printJSON("placed", placed)

	ctx, cancel = auth()
	got, err := orders.GetOrder(ctx, &tierbookv1.GetOrderRequest{OrderId: placed.GetOrder().GetOrderId()})
	cancel()
	if err != nil {
		fail("GetOrder failed", err)
	}
	printJSON("got", got)

	p, g := placed.GetOrder(), got.GetOrder()
	if g.GetOrderId() != p.GetOrderId() || g.GetClientOrderId() != *coid || g.GetSymbol() != *symbol ||
		g.GetQuantityLots() != *qty || g.GetPriceTicks() != *price {
		fail(fmt.Sprintf("the order read back differs from the one placed: %v vs %v", g, p), nil)
	}
	fmt.Printf("ok: order %s (%s) placed and read back, status %s\n", g.GetOrderId(), *coid, g.GetStatus())
}

func printJSON(label string, m proto.Message) {
	b, err := protojson.Marshal(m)
	if err != nil {
		fail("cannot print "+label, err)
	}
	fmt.Printf("%s: %s\n", label, b)
}
