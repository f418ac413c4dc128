package main

import (
	"fmt"
	"os"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// fail prints what went wrong (for a gRPC error: its code, message and the ErrorInfo reason
// tierbook sends in grpc-status-details-bin) and exits 1.
func fail(what string, err error) {
	if err == nil {
		fmt.Fprintln(os.Stderr, "error:", what)
		os.Exit(1)
	}
	st, ok := status.FromError(err)
	if !ok {
		fmt.Fprintf(os.Stderr, "error: %s: %v\n", what, err)
		os.Exit(1)
	}
	reason := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	fmt.Fprintf(os.Stderr, "error: %s: code=%s reason=%s message=%q\n", what, st.Code(), reason, st.Message())
	os.Exit(1)
}
