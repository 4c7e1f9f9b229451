//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "verifywasm runs in a web browser: build it with GOOS=js GOARCH=wasm go build -tags force64bit ./cmd/verifywasm (make wasm)")
	os.Exit(2)
}
