//go:build js && wasm

package main

import (
	"encoding/json"
	"syscall/js"
	"time"
)

func main() {
	js.Global().Set("civicVerify", js.FuncOf(civicVerify))
	select {}
}

// civicVerify(bundleJSON, genesis) checks the bundle; genesis is the
// genesis file's bytes (a Uint8Array) or text.
func civicVerify(_ js.Value, args []js.Value) any {
	if len(args) != 2 {
		return toJS(&Result{Outcome: OutcomeFailed, Reason: "civicVerify takes the bundle and the genesis file"})
	}
	return toJS(check(bytesOf(args[0]), bytesOf(args[1]), time.Now()))
}

func bytesOf(v js.Value) []byte {
	if v.Type() == js.TypeString {
		return []byte(v.String())
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

func toJS(r *Result) any {
	bz, err := json.Marshal(r)
	if err != nil {
		bz = []byte(`{"outcome":"FAILED","reason":"the result does not encode"}`)
	}
	return js.Global().Get("JSON").Call("parse", string(bz))
}
