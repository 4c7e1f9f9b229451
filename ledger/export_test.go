package ledger

// ClassifyDecodeError exposes classifyDecodeError to the external tests.
var ClassifyDecodeError = classifyDecodeError

// DecodeTxFull is DecodeTx without strictDecode's fast path (the
// reference the fuzz tests compare DecodeTx with).
func DecodeTxFull(raw []byte, maxBytes int64) (*Tx, error) {
	return decodeTx(raw, maxBytes, strictDecodeFull)
}
